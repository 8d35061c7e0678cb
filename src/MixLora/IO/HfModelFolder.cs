using System.Text.Json;
using MixLora.Config;
using MixLora.Models;
using MixLora.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.IO;

/// <summary>
/// Reads a Hugging Face model folder: <c>config.json</c>, weights (<c>model.safetensors</c>, sharded
/// <c>model.safetensors.index.json</c>, or <c>pytorch_model.bin</c> through the restricted reader) and tokenizer files.
/// Weights stored as F32, BF16 or F16 are converted to the compute dtype while loading.
/// </summary>
public static class HfModelFolder
{
    public const string ConfigFile = "config.json";
    public const string SafeTensorsFileName = "model.safetensors";
    public const string SafeTensorsIndexFile = "model.safetensors.index.json";
    public const string TorchBinFileName = "pytorch_model.bin";

    public static PretrainedModel Load(string directory, RunOptions options)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new MixLoraException($"{directory}: model folder not found (expected a folder with config.json and weights)");
        options.Apply();
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFile));
        var generation = GenerationConfig.Load(directory);                      // checked before the weights are read
        var dtype = options.ScalarType;
        var device = options.TorchDevice;
        var (tensors, description) = LoadWeights(directory, dtype);
        if (!options.AllowNonFinite)
        {
            var file = Path.Combine(directory, description.Split(' ')[0]);
            try { FiniteWeights.ThrowIfAnyNonFinite(tensors, File.Exists(file) ? file : directory); }
            catch
            {
                foreach (var t in tensors.Values) t.Dispose();
                throw;
            }
        }
        var source = new StateDictWeightSource(tensors, directory);
        source.Ignore(name => name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal));
        var model = CausalLM.Create(config, source);
        try
        {
            source.ThrowIfIncomplete();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        if (device.type != DeviceType.CPU) model.to(device);
        model.eval();
        var tokenizer = TokenizerLoader.FromFolder(directory);
        return new PretrainedModel(directory, config, model, tokenizer, options, description, generation);
    }

    /// <summary>Loads all weight tensors of the folder in <paramref name="dtype"/>, and says which files they came from.</summary>
    public static (Dictionary<string, Tensor> Tensors, string Description) LoadWeights(string directory, ScalarType dtype)
    {
        var single = Path.Combine(directory, SafeTensorsFileName);
        var index = Path.Combine(directory, SafeTensorsIndexFile);
        var bin = Path.Combine(directory, TorchBinFileName);
        if (File.Exists(single))
            return (Collect(SafeTensorsFile.Load(single, dtype)), $"{SafeTensorsFileName} ({StoredDTypes(single)})");
        if (File.Exists(index))
        {
            var result = new Dictionary<string, Tensor>();
            var shards = ShardFiles(index);
            foreach (var shard in shards)
            {
                var path = Path.Combine(directory, shard);
                if (!File.Exists(path)) throw new InvalidFileException(index, $"weight_map names shard \"{shard}\", which does not exist");
                foreach (var (name, tensor) in SafeTensorsFile.Load(path, dtype))
                {
                    if (!result.TryAdd(name, tensor)) throw new InvalidFileException(path, $"tensor \"{name}\" appears in more than one shard");
                }
            }
            return (result, $"{shards.Count} safetensors shard(s) ({StoredDTypes(Path.Combine(directory, shards[0]))})");
        }
        if (File.Exists(bin)) return (Collect(TorchBinFile.Load(bin, dtype)), TorchBinFileName);
        throw new MixLoraException($"{directory}: no weights found (expected {SafeTensorsFileName}, {SafeTensorsIndexFile} or {TorchBinFileName})");
    }

    private static Dictionary<string, Tensor> Collect(IEnumerable<KeyValuePair<string, Tensor>> tensors) =>
        tensors.ToDictionary(kv => kv.Key, kv => kv.Value);

    private static string StoredDTypes(string safetensorsPath) =>
        string.Join("/", SafeTensorsFile.ReadHeader(safetensorsPath).Tensors.Select(t => t.DType.ToString()).Distinct());

    /// <summary>The distinct shard file names of a <c>model.safetensors.index.json</c>, in first-mention order.</summary>
    public static IReadOnlyList<string> ShardFiles(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidFileException(indexPath, "missing object \"weight_map\" (tensor name -> shard file)");
            var shards = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidFileException(indexPath, $"weight_map[\"{entry.Name}\"] must be a file name string");
                var shard = entry.Value.GetString()!;
                if (shard.Contains('/') || shard.Contains('\\') || shard == "..")
                    throw new InvalidFileException(indexPath, $"weight_map[\"{entry.Name}\"] = \"{shard}\" must be a file in the same folder");
                if (!shards.Contains(shard)) shards.Add(shard);
            }
            if (shards.Count == 0) throw new InvalidFileException(indexPath, "weight_map is empty");
            return shards;
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(indexPath, $"not valid JSON: {e.Message}");
        }
    }
}
