using System.Text.Json.Nodes;
using MixLora.Adapters;
using MixLora.IO;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// Folds a LoRA, rsLoRA or DoRA adapter into the base model's weights and writes a standalone Hugging Face folder
/// (config.json, model.safetensors, the tokenizer and other files of the base folder), loadable by any engine that reads
/// the base model — and by `mixlora --model`.
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
    /// <exception cref="MixLoraException">An adapter that cannot be merged, or a non-empty output folder.</exception>
    public static void Merge(PretrainedModel model, Adapter adapter, string outputDir, string dtype = "float32")
    {
        if (!DTypes.TryGetValue(dtype, out var storedType))
            throw new MixLoraException($"--dtype \"{dtype}\" is not one of {string.Join(", ", DTypes.Keys)}");
        if (Directory.Exists(outputDir) && Directory.EnumerateFileSystemEntries(outputDir).Any())
            throw new MixLoraException($"{outputDir}: the output folder is not empty; choose a new or empty folder");
        using var merged = MergeWeights(model, adapter);
        Save(merged, model.Directory, outputDir, dtype, storedType);
    }

    /// <summary>
    /// The base model with <paramref name="adapter"/> (when given) folded into its weights, in memory, float32.
    /// </summary>
    /// <exception cref="MixLoraException">A MixLoRA adapter, or an adapter not attached to <paramref name="model"/>.</exception>
    public static MergedModel MergeWeights(PretrainedModel model, Adapter? adapter)
    {
        if (adapter is { Config.IsMixLora: true })
            throw new MixLoraException("a MixLoRA adapter cannot be folded into a dense model (each token mixes different experts); " +
                                       "its export as a Mixtral-style MoE is not implemented yet. merge takes LoRA, rsLoRA and DoRA adapters");
        if (adapter is { IsAttached: false }) throw new MixLoraException("the adapter is not attached to this model");

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
        var tensors = named
            .Select(p => new KeyValuePair<string, Tensor>(p.name, (replaced.GetValueOrDefault(p.name) ?? p.parameter).detach().to(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope()))
            .ToList();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model.Directory, HfModelFolder.ConfigFile)))!.AsObject();
        return new MergedModel(config, tensors);
    }

    private static void Save(MergedModel merged, string baseDir, string outputDir, string dtype, ScalarType storedType)
    {
        Directory.CreateDirectory(outputDir);
        using (var scope = NewDisposeScope())
            SafeTensorsFile.Save(Path.Combine(outputDir, "model.safetensors"),
                merged.Tensors.Select(t => new KeyValuePair<string, Tensor>(t.Key, t.Value.to(storedType))).ToList());
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
