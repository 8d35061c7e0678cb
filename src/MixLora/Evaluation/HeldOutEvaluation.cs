using MixLora.Data;
using MixLora.Generation;
using MixLora.Models;
using MixLora.Tokenization;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>One held-out example: its group (task), prompt, full text (prompt + answer) and an answer checker.</summary>
public sealed record HeldOutItem(string Group, string Prompt, string FullText, Func<string, bool> IsCorrect);

/// <summary>Mean answer loss and greedy accuracy of one group.</summary>
public sealed record GroupScore(string Group, int Count, double Loss, double Accuracy);

/// <summary>
/// Scores a model (with whatever adapters are attached) on held-out examples: the cross-entropy of the answer tokens
/// given the prompt, and whether a short greedy continuation of the prompt is judged correct.
/// </summary>
public static class HeldOutEvaluation
{
    public static IReadOnlyList<GroupScore> Run(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<HeldOutItem> items,
        int maxNewTokens = 4, IReadOnlyCollection<int>? stopIds = null)
    {
        var generator = new TokenGenerator(model);
        var greedy = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1, MaxNewTokens = maxNewTokens };
        var device = model.EmbedTokens.device;
        var perItem = new List<(string Group, double Loss, bool Correct)>();
        using var noGrad = no_grad();
        foreach (var item in items)
        {
            var example = TrainingExample.Encode(tokenizer, item.Prompt, item.FullText, model.Config.MaxPositionEmbeddings, addEos: false, trainOnInputs: false);
            double loss;
            using (var scope = NewDisposeScope())
            {
                var ids = tensor(example.InputIds.Select(i => (long)i).ToArray(), device: device).unsqueeze(0);   // [1, T]
                var labels = tensor(example.LabelMask.Select(i => (long)i).ToArray(), device: device).unsqueeze(0);
                // The loss from the hidden states a chunk of rows at a time: never a [1, T, V] logits tensor (large vocabularies).
                using var output = model.ForwardHidden(ids);
                loss = ChunkedCausalLmLoss.Compute(model, output.Hidden, ids, labels).item<float>();
            }
            var promptIds = PromptEncoding.Encode(tokenizer, item.Prompt);
            var continuation = tokenizer.Decode(generator.Generate(promptIds, greedy, stopIds ?? []).ToList());
            perItem.Add((item.Group, loss, item.IsCorrect(continuation)));
        }
        return perItem.GroupBy(p => p.Group)
            .Select(g => new GroupScore(g.Key, g.Count(), g.Average(p => p.Loss), g.Average(p => p.Correct ? 1.0 : 0.0)))
            .ToList();
    }
}
