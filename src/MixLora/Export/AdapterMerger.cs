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

    /// <param name="dtype">float32 (exact), bfloat16 or float16.</param>
    /// <exception cref="MixLoraException">A MixLoRA adapter, an adapter not attached to <paramref name="model"/>, or a non-empty output folder.</exception>
    public static void Merge(PretrainedModel model, Adapter adapter, string outputDir, string dtype = "float32")
    {
        if (!DTypes.TryGetValue(dtype, out var storedType))
            throw new MixLoraException($"--dtype \"{dtype}\" is not one of {string.Join(", ", DTypes.Keys)}");
        if (adapter.Config.IsMixLora)
            throw new MixLoraException("a MixLoRA adapter cannot be folded into a dense model (each token mixes different experts); " +
                                       "its export as a Mixtral-style MoE is not implemented yet. merge takes LoRA, rsLoRA and DoRA adapters");
        if (!adapter.IsAttached) throw new MixLoraException("the adapter is not attached to this model");
        if (Directory.Exists(outputDir) && Directory.EnumerateFileSystemEntries(outputDir).Any())
            throw new MixLoraException($"{outputDir}: the output folder is not empty; choose a new or empty folder");

        using var scope = NewDisposeScope();
        var named = model.Model.named_parameters().ToList();
        string NameOf(Tensor parameter) => named.First(p => ReferenceEquals(p.parameter, parameter)).name;
        var replaced = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (linear, lora) in adapter.LinearDeltas)
        {
            var (weight, bias) = lora.Merged(linear.Weight, linear.Bias);
            replaced[NameOf(linear.Weight)] = weight;
            if (bias is not null) replaced[NameOf(linear.Bias!)] = bias;
        }
        // The parameters under their checkpoint names (a tied head appears once, as the embedding).
        var tensors = named
            .Select(p => new KeyValuePair<string, Tensor>(p.name, (replaced.GetValueOrDefault(p.name) ?? p.parameter).to(storedType).cpu().contiguous()))
            .ToList();

        Directory.CreateDirectory(outputDir);
        SafeTensorsFile.Save(Path.Combine(outputDir, "model.safetensors"), tensors);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model.Directory, HfModelFolder.ConfigFile)))!.AsObject();
        config["torch_dtype"] = dtype;
        AtomicFile.WriteAllText(Path.Combine(outputDir, HfModelFolder.ConfigFile), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        foreach (var file in Directory.EnumerateFiles(model.Directory).Where(IsCopied))
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
