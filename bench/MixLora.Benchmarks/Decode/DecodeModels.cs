using MixLora.Adapters;
using MixLora.Benchmarks.TrainStep;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.Decode;

/// <summary>
/// One random-weight base model (the train-step worker's seeds) and the adapters measured on it, built once and
/// attached in turn. A fresh adapter's LoRA B is zero, so its delta vanishes and a shortcut could skip the adapter
/// unnoticed; B is filled with small random numbers so every adapter really changes the output.
/// </summary>
public sealed class DecodeModels : IDisposable
{
    public const double LoraBStd = 0.02;

    /// <summary>The measured configurations, in table order; null adapter = the base model alone.</summary>
    public IReadOnlyList<(string Name, Adapter? Adapter)> Configurations { get; }

    public CausalLM Model { get; }

    public DecodeModels(TrainStepShape shape)
    {
        Model = CausalLM.Create(shape.ModelConfig(), new RandomWeightSource(TrainStepWorker.Seed));
        Model.eval();
        var fill = new Generator(TrainStepWorker.Seed + 3);
        Configurations =
        [
            ("base", null),
            ("lora", NewAdapter("lora", fill)),
            ("mixlora_fused", NewAdapter("mixlora_fused", fill)),
        ];
    }

    private Adapter NewAdapter(string variant, Generator fill)
    {
        var config = TrainStepVariants.AdapterConfig(variant)!;
        var adapter = Adapter.Create(Model, config, new AdapterOptions { Seed = TrainStepWorker.Seed + 1, ExpertPath = TrainStepVariants.ExpertPath(variant) });
        using (no_grad())
            foreach (var (name, tensor) in adapter.NamedTensors)
                if (name.Contains(".lora_B.", StringComparison.Ordinal)) tensor.normal_(0, LoraBStd, fill);
        adapter.SetTraining(false); // inference: no dropout, no router jitter
        adapter.Detach();           // attached only while its configuration is measured
        return adapter;
    }

    public void Dispose()
    {
        foreach (var (_, adapter) in Configurations) adapter?.Dispose();
        Model.Dispose();
    }
}
