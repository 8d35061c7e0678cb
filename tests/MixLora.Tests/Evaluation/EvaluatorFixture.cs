using MixLora.Adapters;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Tests.Adapters;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Evaluation;

/// <summary>
/// stories260K with two adapters attached: the golden MixLoRA adapter (4 experts, top-2) and a plain LoRA adapter
/// whose weights are randomised so it changes the logits.
/// </summary>
public sealed class EvaluatorFixture : IDisposable
{
    public EvaluatorFixture()
    {
        Model = Stories260K.Load();
        MixLora = Adapter.Load(Model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        Lora = Adapter.Create(Model.Model, AdapterTests.Config("\"peft_type\": \"LORA\""), new AdapterOptions { Seed = 5 });
        using (no_grad())
        {
            var generator = new TorchSharp.torch.Generator(11);
            foreach (var p in Lora.TrainableParameters()) p.copy_(randn(p.shape, generator: generator) * 0.2);
        }
        MixLora.SetTraining(false);
        Lora.SetTraining(false);
    }

    public PretrainedModel Model { get; }
    public Adapter MixLora { get; }
    public Adapter Lora { get; }

    /// <summary>Prompts of different lengths, so batches are padded.</summary>
    public static readonly string[] Prompts =
    [
        "Once upon a time, there was a little girl named Lily. She",
        "The dog ran to the park and",
        "Tom had a big red ball. He wanted to play with his friend. One day,",
        "The sun",
        "Mom said",
    ];

    /// <summary>Runs <paramref name="body"/> with only <paramref name="adapter"/> attached (or none), then re-attaches both.</summary>
    public T WithOnly<T>(Adapter? adapter, Func<T> body)
    {
        MixLora.Detach();
        Lora.Detach();
        adapter?.Attach();
        try { return body(); }
        finally
        {
            MixLora.Attach();
            Lora.Attach();
        }
    }

    /// <summary>
    /// Expectations computed apart from the evaluator: for each text, Σ log p of its tokens after the prompt (prompt and
    /// text tokenised together, scored from the first token that differs from the prompt's own tokenisation), from a
    /// plain forward of one sequence with only <paramref name="adapter"/> attached.
    /// </summary>
    public float[] LogLikelihoods(Adapter? adapter, string prompt, IReadOnlyList<string> texts) => WithOnly(adapter, () =>
    {
        var tokenizer = Model.Tokenizer;
        var promptIds = tokenizer.Encode(prompt);
        using var noGrad = no_grad();
        return texts.Select(text =>
        {
            using var scope = NewDisposeScope();
            var full = tokenizer.Encode(prompt + text);
            int shared = full.Zip(promptIds).TakeWhile(p => p.First == p.Second).Count();
            using var output = Model.Model.Forward(tensor(full.Select(i => (long)i).ToArray()).unsqueeze(0));  // [1, T] -> [1, T, V]
            var logProbs = output.Logits[0].log_softmax(-1);                                                  // [T, V]
            return Enumerable.Range(shared, full.Count - shared).Sum(t => logProbs[t - 1, full[t]].item<float>());
        }).ToArray();
    });

    /// <summary>The greedy continuation of one prompt with only <paramref name="adapter"/> attached (stops at EOS or the budget).</summary>
    public string Greedy(Adapter? adapter, IReadOnlyList<int> promptIds, int maxNewTokens) => WithOnly(adapter, () =>
    {
        var greedy = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1, MaxNewTokens = maxNewTokens };
        return Model.Tokenizer.Decode(new TokenGenerator(Model.Model).Generate(promptIds, greedy, Model.StopIds).ToList());
    });

    public void Dispose()
    {
        MixLora.Dispose();
        Lora.Dispose();
        Model.Dispose();
    }
}
