using MixLora.Adapters;
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

    public void Dispose()
    {
        MixLora.Dispose();
        Lora.Dispose();
        Model.Dispose();
    }
}
