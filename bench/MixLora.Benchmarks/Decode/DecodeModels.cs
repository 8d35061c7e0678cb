using MixLora.Adapters;
using MixLora.Benchmarks.Harness;
using MixLora.IO;
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

    /// <summary>
    /// The measured configurations, in table order; null adapter = the base model alone; Merged = the adapter's LoRAs
    /// folded into the base weights while measured (<see cref="Adapter.MergeIntoBase"/>).
    /// </summary>
    public IReadOnlyList<(string Name, Adapter? Adapter, bool Merged)> Configurations { get; }

    public CausalLM Model { get; }

    /// <summary>A folder whose tokenizer describes the model's vocabulary (for the GGUF llama.cpp runs).</summary>
    public string TokenizerDir { get; }

    private readonly PretrainedModel? _folder;

    /// <summary>The random model of <paramref name="shape"/> and <paramref name="family"/> with a LoRA and a MixLoRA adapter.</summary>
    public DecodeModels(TrainStepShape shape, string family = "llama")
    {
        Model = CausalLM.Create(shape.ModelConfig(family), new RandomWeightSource(TrainStepWorker.Seed));
        Model.eval();
        TokenizerDir = Path.Combine(RunEnvironment.RepoRoot(), "assets", "tokenizers", "llama2");
        var fill = new Generator(TrainStepWorker.Seed + 3);
        var lora = NewAdapter("lora", fill);
        var mixLora = NewAdapter("mixlora_fused", fill);
        Configurations =
        [
            ("base", null, false),
            ("lora", lora, false),
            ("lora_merged", lora, true),
            ("mixlora", mixLora, false),
            ("mixlora_merged", mixLora, true),
        ];
    }

    /// <summary>A model folder, and the adapter of <paramref name="adapterDir"/> (named lora or mixlora) when given.</summary>
    public DecodeModels(string modelDir, string? adapterDir)
    {
        _folder = PretrainedModel.Load(modelDir);
        Model = _folder.Model;
        TokenizerDir = modelDir;
        if (adapterDir is null)
        {
            Configurations = [("base", null, false)];
            return;
        }
        var adapter = Adapter.Load(Model, adapterDir);
        adapter.SetTraining(false);
        adapter.Detach();
        string name = adapter.Config.IsMixLora ? "mixlora" : "lora";
        Configurations = [("base", null, false), (name, adapter, false), (name + "_merged", adapter, true)];
    }

    private Adapter NewAdapter(string variant, Generator fill)
    {
        var config = TrainStepVariants.AdapterConfig(variant, Model.Config.ModelType)!;
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
        foreach (var adapter in Configurations.Select(c => c.Adapter).OfType<Adapter>().Distinct()) adapter.Dispose();
        if (_folder is not null) _folder.Dispose();
        else Model.Dispose();
    }
}
