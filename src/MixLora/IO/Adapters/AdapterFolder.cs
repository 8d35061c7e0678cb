using MixLora.Config;
using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// Reads and writes adapter folders: <c>adapter_config.json</c> plus <c>adapter_model.bin</c> or
/// <c>adapter_model.safetensors</c> (spec §5.1). Tensor names are the files' own (spec §5.3); see
/// <see cref="AdapterLayout"/> for the names and shapes a config implies.
/// </summary>
public static class AdapterFolder
{
    public const string ConfigFileName = "adapter_config.json";
    public const string BinFileName = "adapter_model.bin";
    public const string SafeTensorsFileName = "adapter_model.safetensors";

    /// <summary>
    /// Loads the config (validated without a base model) and all tensors as fp32 CPU tensors in file order;
    /// prefers <c>adapter_model.safetensors</c> when both weight files exist. The caller owns the tensors.
    /// </summary>
    /// <exception cref="MixLoraException">The folder, its config or its weights are missing or invalid.</exception>
    public static (AdapterConfig Config, OrderedDictionary<string, torch.Tensor> Tensors) Load(string dir)
    {
        if (!Directory.Exists(dir))
            throw new MixLoraException($"{dir}: adapter folder not found (expected a folder with {ConfigFileName} and {BinFileName} or {SafeTensorsFileName})");
        var config = AdapterConfig.Load(Path.Combine(dir, ConfigFileName));
        var tensors = LoadWeights(dir);
        try
        {
            AdapterLayout.UsePeftMagnitudes(dir, tensors);
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return (config, tensors);
    }

    /// <summary>
    /// Loads the folder and checks it against <paramref name="baseModel"/>: the config's target modules must exist
    /// on the model and the tensors must be exactly those of <see cref="AdapterLayout.Expected"/>.
    /// </summary>
    public static (AdapterConfig Config, OrderedDictionary<string, torch.Tensor> Tensors) Load(string dir, ModelConfig baseModel)
    {
        var (config, tensors) = Load(dir);
        try
        {
            AdapterLayout.Check(dir, config, baseModel, tensors);
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return (config, tensors);
    }

    /// <summary>The weight file <see cref="Load(string)"/> reads: safetensors first, else .bin.</summary>
    /// <exception cref="MixLoraException">Neither file exists.</exception>
    public static string WeightsPath(string dir)
    {
        var safetensors = Path.Combine(dir, SafeTensorsFileName);
        if (File.Exists(safetensors)) return safetensors;
        var bin = Path.Combine(dir, BinFileName);
        if (File.Exists(bin)) return bin;
        throw new MixLoraException($"{dir}: no adapter weights found (expected {SafeTensorsFileName} or {BinFileName})");
    }

    /// <summary>Loads the weight file of <paramref name="dir"/> as fp32 tensors in file order.</summary>
    public static OrderedDictionary<string, torch.Tensor> LoadWeights(string dir)
    {
        var path = WeightsPath(dir);
        return path.EndsWith(".safetensors", StringComparison.Ordinal)
            ? SafeTensorsFile.Load(path, torch.ScalarType.Float32)
            : TorchBinFile.Load(path, torch.ScalarType.Float32);
    }

    /// <summary>
    /// Writes the weights (in the given order and dtype) and then the config (<see cref="AdapterConfig.ToJson"/>),
    /// each file atomically. The other format's weight file, if present, is deleted afterwards so that a later
    /// <see cref="Load(string)"/> cannot pick up stale weights.
    /// </summary>
    /// <exception cref="MixLoraException">The config is invalid, or a tensor name repeats.</exception>
    public static void Save(string dir, AdapterConfig config, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        AdapterWeightFormat format = AdapterWeightFormat.Bin)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        var configPath = Path.Combine(dir, ConfigFileName);
        config.Validate(configPath);
        var json = config.ToJson();
        Directory.CreateDirectory(dir);

        var (written, stale) = format switch
        {
            AdapterWeightFormat.Bin => (BinFileName, SafeTensorsFileName),
            AdapterWeightFormat.SafeTensors => (SafeTensorsFileName, BinFileName),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown adapter weight format"),
        };
        var weightsPath = Path.Combine(dir, written);
        if (format == AdapterWeightFormat.Bin) TorchBinFile.Save(weightsPath, tensors);
        else SafeTensorsFile.Save(weightsPath, tensors);
        AtomicFile.WriteAllText(configPath, json);
        File.Delete(Path.Combine(dir, stale));
    }
}
