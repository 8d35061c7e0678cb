using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace MixLora.Config;

public sealed partial record TrainingConfig
{
    // A training config is a few kilobytes; refuse to slurp anything this large.
    private const long MaxConfigBytes = 16L * 1024 * 1024;

    private static readonly string[] RequiredTopLevelKeys = ["cutoff_len", "save_step", "train_strategy", "lora"];
    private static readonly string[] RequiredAdapterKeys = ["name", "lr", "batch_size", "num_epochs"];

    /// <summary>JSON keys of the run-wide part of the file.</summary>
    public static IReadOnlyList<string> TopLevelKeys { get; } = JsonSource.Keys(typeof(TrainingConfig));

    /// <summary>JSON keys of an adapter entry that are training keys (the rest go to <see cref="AdapterConfig"/>).</summary>
    public static IReadOnlyList<string> AdapterTrainingKeys { get; } = JsonSource.Keys(typeof(AdapterTrainingConfig));

    private static readonly JsonSerializerOptions ReadOptions = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip, // unknown keys are reported before deserializing
        RespectNullableAnnotations = true,
    };

    /// <summary>Reads and validates a training config file (data files are checked by <see cref="ValidateData"/>).</summary>
    /// <exception cref="InvalidFileException">Missing file, bad JSON, unknown key, wrong type or invalid value.</exception>
    public static TrainingConfig Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidFileException(path, "training config file not found");
        if (info.Length > MaxConfigBytes) throw new InvalidFileException(path, $"{info.Length} bytes is too large for a training config");
        return Parse(IO.Utf8TextFile.Read(path), path);
    }

    /// <summary>Parses and validates training config JSON; <paramref name="source"/> names it in error messages.</summary>
    public static TrainingConfig Parse(string json, string source)
    {
        var config = ParseUnvalidated(json, source);
        config.Validate(source);
        return config;
    }

    private static TrainingConfig ParseUnvalidated(string json, string source)
    {
        var document = JsonSource.ParseObject(json, source);
        using (document)
        {
            var root = document.RootElement;
            CheckKeys(root, source, "", TopLevelKeys, RequiredTopLevelKeys);
            var lora = root.GetProperty("lora");
            if (lora.ValueKind != JsonValueKind.Array)
                throw new InvalidFileException(source, $"key \"lora\" must be a list of adapter objects, got {JsonSource.Show(lora)}");

            var topLevel = JsonObject.Create(root)!;
            topLevel.Remove("lora");
            var config = Deserialize<TrainingConfig>(topLevel, root, source, "");
            var adapters = lora.EnumerateArray().Select((element, index) => ParseAdapter(element, index, source)).ToList();
            return config with { Lora = adapters };
        }
    }

    private static AdapterTrainingConfig ParseAdapter(JsonElement element, int index, string source)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException(source, $"lora[{index}] must be an adapter object, got {JsonSource.Show(element)}");
        string? name = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        var location = AdapterLocation(index, name) + ": ";
        // max_steps sets the run's length, so num_epochs may then be left out.
        var required = element.TryGetProperty("max_steps", out _) ? [.. RequiredAdapterKeys.Where(k => k != "num_epochs")] : RequiredAdapterKeys;
        CheckKeys(element, source, location, known: null, required);

        var training = Deserialize<AdapterTrainingConfig>(JsonObject.Create(element)!, element, source, location);
        AdapterConfig adapter;
        try
        {
            adapter = AdapterConfig.ParseUnvalidated(element.GetRawText(), source, allowUnknownKeys: false, AdapterTrainingKeys);
        }
        catch (InvalidFileException e) when (e.FilePath == source)
        {
            throw new InvalidFileException(source, location + e.Message[(source.Length + 2)..], e);
        }
        return training with { Adapter = adapter };
    }

    /// <summary>Reports duplicate keys, unknown keys (when <paramref name="known"/> is given) and missing required keys.</summary>
    private static void CheckKeys(JsonElement obj, string source, string location, IReadOnlyList<string>? known, IReadOnlyList<string> required)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            if (!seen.Add(property.Name))
                throw new InvalidFileException(source, $"{location}key \"{property.Name}\" appears more than once");
            if (known is not null && !known.Contains(property.Name))
                throw new InvalidFileException(source, location + JsonSource.UnknownKey(property.Name, known));
        }
        foreach (var key in required)
        {
            if (!seen.Contains(key)) throw new InvalidFileException(source, $"{location}missing key \"{key}\"{RequiredKeyHint(key)}");
        }
    }

    private static string RequiredKeyHint(string key) => key switch
    {
        "cutoff_len" => " (maximum tokens per sequence, or -1 for the model's context length)",
        "save_step" => " (save a checkpoint every N micro-steps)",
        "train_strategy" => $" ({string.Join(" or ", TrainStrategies.Select(s => $"\"{s}\""))})",
        "lora" => " (the list of adapters to train)",
        "lr" => " (the learning rate, a number > 0)",
        "batch_size" => " (examples per optimizer step, an integer > 0)",
        "num_epochs" => " (passes over the data, a number > 0; max_steps may cut the run short)",
        _ => "",
    };

    /// <summary>Deserializes, turning a type error into a message naming the key, the expected type and the value.</summary>
    private static T Deserialize<T>(JsonObject node, JsonElement element, string source, string location) where T : class
    {
        try
        {
            return node.Deserialize<T>(ReadOptions) ?? throw new InvalidFileException(source, $"{location}expected an object, got null");
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(source, location + (JsonSource.TypeError(typeof(T), element, e) ?? $"not a valid training config: {e.Message}"), e);
        }
    }
}
