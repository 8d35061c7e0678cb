using System.Text.Json.Nodes;
using MixLora.Adapters;
using MixLora.IO;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// Folds an adapter into the base model's weights and writes a standalone Hugging Face folder (config.json,
/// model.safetensors, the tokenizer and other files of the base folder), loadable by any engine that reads the model
/// type — and by `mixlora --model`. LoRA, rsLoRA and DoRA keep the base architecture; MixLoRA becomes Mixtral.
/// </summary>
public static class AdapterMerger
{
    /// <summary>Data types a merged model can be stored in.</summary>
    public static readonly IReadOnlyDictionary<string, ScalarType> DTypes = new Dictionary<string, ScalarType>
    {
        ["float32"] = ScalarType.Float32, ["bfloat16"] = ScalarType.BFloat16, ["float16"] = ScalarType.Float16,
    };

    /// <summary>Folds <paramref name="adapter"/> into the base weights and writes the result as a Hugging Face folder.</summary>
    /// <param name="dtype">float32 (exact), bfloat16 or float16.</param>
    /// <param name="maxShardBytes">Above this size the weights are sharded, with a <c>model.safetensors.index.json</c>.</param>
    /// <exception cref="MixLoraException">An adapter that cannot be merged, or a non-empty output folder.</exception>
    public static void Merge(PretrainedModel model, Adapter adapter, string outputDir, string dtype = "float32",
        long maxShardBytes = SafeTensorsShards.DefaultMaxShardBytes)
    {
        if (!DTypes.TryGetValue(dtype, out var storedType))
            throw new MixLoraException($"--dtype \"{dtype}\" is not one of {string.Join(", ", DTypes.Keys)}");
        if (Directory.Exists(outputDir) && Directory.EnumerateFileSystemEntries(outputDir).Any())
            throw new MixLoraException($"{outputDir}: the output folder is not empty; choose a new or empty folder");
        using var merged = MergeWeights(model, adapter);
        Save(merged, model.Directory, outputDir, dtype, storedType, maxShardBytes);
    }

    /// <summary>
    /// The base model with <paramref name="adapter"/> (when given) folded into its weights, in memory, float32. A LoRA,
    /// rsLoRA or DoRA adapter keeps the base architecture; a top-k MixLoRA adapter on a llama/mistral base becomes a
    /// Mixtral model (see <see cref="MixtralExport"/>).
    /// </summary>
    /// <exception cref="MixLoraException">An adapter that cannot be expressed exactly, or one not attached to <paramref name="model"/>.</exception>
    public static MergedModel MergeWeights(PretrainedModel model, Adapter? adapter)
    {
        if (adapter is { IsAttached: false }) throw new MixLoraException("the adapter is not attached to this model");
        if (adapter is { IsMergedIntoBase: true }) throw new MixLoraException("the adapter is already merged into the base weights for inference; unmerge it first");
        bool toMixtral = adapter is { Config.IsMixLora: true };
        if (toMixtral) MixtralExport.ThrowIfInexpressible(adapter!.Config, model.Config);

        using var scope = NewDisposeScope();
        var named = model.Model.named_parameters().ToList();
        string NameOf(Tensor parameter) => named.First(p => ReferenceEquals(p.parameter, parameter)).name;
        var replaced = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (linear, lora) in adapter?.LinearDeltas ?? [])
        {
            var (weight, bias) = lora.Merged(linear.Weight, linear.Bias);
            replaced[NameOf(linear.Weight)] = weight;
            if (bias is not null) replaced[NameOf(linear.Bias!)] = bias;
        }
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var moeLayers = toMixtral ? adapter!.MoeBlocks.ToDictionary(b => b.LayerIndex) : [];
        foreach (var (name, parameter) in named)
        {
            if (toMixtral && MlpLayer(name) is int layer)
            {
                // The layer's dense FFN is replaced by its experts, emitted once, where the FFN stood.
                if (name.EndsWith(".mlp.gate_proj.weight", StringComparison.Ordinal))
                    tensors.AddRange(MixtralExport.LayerTensors(layer, moeLayers[layer], model.Model.Layers[layer].DenseMlp));
                continue;
            }
            tensors.Add(new(name, (replaced.GetValueOrDefault(name) ?? parameter).detach().to(ScalarType.Float32).cpu().contiguous()));
        }
        foreach (var (_, tensor) in tensors) tensor.MoveToOuterDisposeScope();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model.Directory, HfModelFolder.ConfigFile)))!.AsObject();
        return new MergedModel(toMixtral ? MixtralExport.Config(config, model.Config, adapter!.Config) : config, tensors);
    }

    /// <summary>The layer index of a <c>model.layers.{i}.mlp.*</c> name, else null.</summary>
    private static int? MlpLayer(string name)
    {
        const string layers = "model.layers.";
        if (!name.StartsWith(layers, StringComparison.Ordinal)) return null;
        int dot = name.IndexOf('.', layers.Length);
        return dot > 0 && name.AsSpan(dot).StartsWith(".mlp.") && int.TryParse(name.AsSpan(layers.Length, dot - layers.Length), out var i) ? i : null;
    }

    private static void Save(MergedModel merged, string baseDir, string outputDir, string dtype, ScalarType storedType, long maxShardBytes)
    {
        Directory.CreateDirectory(outputDir);
        using (var scope = NewDisposeScope())
            SafeTensorsShards.Save(outputDir, merged.Tensors.Select(t => new KeyValuePair<string, Tensor>(t.Key, t.Value.to(storedType))).ToList(), maxShardBytes);
        var config = (JsonObject)merged.Config.DeepClone();
        config["torch_dtype"] = dtype;
        AtomicFile.WriteAllText(Path.Combine(outputDir, HfModelFolder.ConfigFile), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        foreach (var file in Directory.EnumerateFiles(baseDir).Where(IsCopied))
            File.Copy(file, Path.Combine(outputDir, Path.GetFileName(file)));
    }

    /// <summary>Everything of the base folder but its weights and config (the tokenizer, generation_config.json, templates).</summary>
    private static bool IsCopied(string path)
    {
        var name = Path.GetFileName(path);
        return name != HfModelFolder.ConfigFile && !name.StartsWith('.')
            && !(name.StartsWith("model", StringComparison.Ordinal) && (name.EndsWith(".safetensors") || name.EndsWith(".safetensors.index.json")))
            && !(name.StartsWith("pytorch_model", StringComparison.Ordinal) && (name.EndsWith(".bin") || name.EndsWith(".bin.index.json")));
    }
}
