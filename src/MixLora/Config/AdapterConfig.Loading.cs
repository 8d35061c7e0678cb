using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

public sealed partial record AdapterConfig
{
    // An adapter_config.json is a few hundred bytes; anything this large is not one.
    private const long MaxConfigBytes = 16L * 1024 * 1024;

    /// <summary>
    /// Hugging Face PEFT <c>LoraConfig</c> keys that only matter for training or bookkeeping: accepted with any value.
    /// </summary>
    private static readonly HashSet<string> IgnoredPeftKeys =
    [
        "auto_mapping", "revision", "inference_mode", "init_lora_weights", "layers_pattern", "megatron_config",
        "megatron_core", "loftq_config", "eva_config", "corda_config", "use_qalora", "qalora_group_size",
        "runtime_config", "peft_version", "ensure_weight_tying", "arrow_config",
    ];

    /// <summary>
    /// Hugging Face PEFT keys that change which weights exist or how they apply: accepted only with their default
    /// (null, false, empty), since this library does not implement them.
    /// </summary>
    private static readonly HashSet<string> DefaultOnlyPeftKeys =
    [
        "fan_in_fan_out", "modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern",
        "layer_replication", "lora_bias", "trainable_token_indices", "target_parameters", "exclude_modules",
        "alora_invocation_tokens",
    ];

    private static readonly JsonSerializerOptions ReadOptions = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip, // unknown keys are reported by CheckKeys first
        RespectNullableAnnotations = true,
        AllowTrailingCommas = false,
    };

    /// <summary>Reads and validates an <c>adapter_config.json</c> (without a base model; see <see cref="Validate"/>).</summary>
    /// <exception cref="InvalidFileException">The file is missing, not JSON, has a wrong type or an invalid value.</exception>
    public static AdapterConfig Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidFileException(path, "file not found (an adapter folder needs adapter_config.json)");
        if (info.Length > MaxConfigBytes) throw new InvalidFileException(path, $"{info.Length} bytes is too large for an adapter_config.json");
        return Parse(IO.Utf8TextFile.Read(path), path);
    }

    /// <summary>
    /// Parses and validates adapter config JSON; <paramref name="source"/> names it in error messages.
    /// <paramref name="otherKeys"/> are keys the caller handles itself and that are therefore not "unknown" (for
    /// example the training keys of an adapter entry in a MoE-PEFT training config).
    /// </summary>
    public static AdapterConfig Parse(string json, string source, IEnumerable<string>? otherKeys = null)
    {
        var config = ParseUnvalidated(json, source, allowUnknownKeys: false, otherKeys);
        config.Validate(source);
        return config;
    }

    /// <summary>
    /// Parses without checking values. <paramref name="allowUnknownKeys"/> is for legacy files, whose extra keys are
    /// dropped by the conversion.
    /// </summary>
    internal static AdapterConfig ParseUnvalidated(string json, string source, bool allowUnknownKeys, IEnumerable<string>? otherKeys = null)
    {
        var document = JsonSource.ParseObject(json, source);
        using (document)
        {
            var root = document.RootElement;
            if (!allowUnknownKeys && root.TryGetProperty("routing_strategy", out var routing) && routing.ValueKind == JsonValueKind.String
                && LegacyRoutingStrategies.TryGetValue(routing.GetString()!, out var modern))
            {
                // Say this first: legacy files also carry keys (and target names) the current format does not know.
                throw new InvalidFileException(source,
                    $"routing_strategy \"{routing.GetString()}\" is the legacy m-LoRA format (now \"{modern}\"); convert the adapter with LegacyAdapterConverter first");
            }
            CheckKeys(root, source, allowUnknownKeys, otherKeys?.ToHashSet(StringComparer.Ordinal) ?? []);
            try
            {
                return root.Deserialize<AdapterConfig>(ReadOptions)
                    ?? throw new InvalidFileException(source, "expected a JSON object, got null");
            }
            catch (JsonException e)
            {
                throw new InvalidFileException(source, JsonSource.TypeError(typeof(AdapterConfig), root, e) ?? $"not a valid adapter config: {e.Message}", e);
            }
        }
    }

    private static void CheckKeys(JsonElement root, string source, bool allowUnknownKeys, HashSet<string> otherKeys)
    {
        var known = JsonSource.Keys(typeof(AdapterConfig));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            var key = property.Name;
            if (!seen.Add(key)) throw new InvalidFileException(source, $"key \"{key}\" appears more than once");
            if (known.Contains(key) || IgnoredPeftKeys.Contains(key) || otherKeys.Contains(key)) continue;
            if (DefaultOnlyPeftKeys.Contains(key))
            {
                if (!IsDefaultValue(property.Value))
                    throw new InvalidFileException(source,
                        $"key \"{key}\" = {JsonSource.Show(property.Value)} is a Hugging Face PEFT option this library does not support (only its default: null, false or empty)");
                continue;
            }
            if (!allowUnknownKeys)
                throw new InvalidFileException(source, JsonSource.UnknownKey(key, [.. known, .. otherKeys]));
        }

        if (root.TryGetProperty("target_modules", out var targets)) CheckTargetModulesShape(targets, source);
        if (root.TryGetProperty("expert_lora", out var expert) && expert.ValueKind == JsonValueKind.Object)
        {
            var expertKeys = JsonSource.Keys(typeof(ExpertLoraConfig));
            foreach (var property in expert.EnumerateObject())
            {
                if (!expertKeys.Contains(property.Name))
                    throw new InvalidFileException(source,
                        "expert_lora: " + JsonSource.UnknownKey(property.Name, expertKeys, "expert_lora may set"));
            }
        }
    }

    private static void CheckTargetModulesShape(JsonElement targets, string source)
    {
        const string expected = "must be a list of projection names or a map of name to true/false";
        switch (targets.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in targets.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                        throw new InvalidFileException(source, $"key \"target_modules\" {expected}; found the element {JsonSource.Show(item)}");
                }
                break;
            case JsonValueKind.Object:
                foreach (var entry in targets.EnumerateObject())
                {
                    if (entry.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                        throw new InvalidFileException(source, $"key \"target_modules.{entry.Name}\" must be true or false, got {JsonSource.Show(entry.Value)}");
                }
                break;
            case JsonValueKind.Null:
                break; // reported as missing by Validate
            default:
                throw new InvalidFileException(source, $"key \"target_modules\" {expected}, got {JsonSource.Show(targets)}");
        }
    }

    private static bool IsDefaultValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False => true,
        JsonValueKind.Object => !value.EnumerateObject().Any(),
        JsonValueKind.Array => value.GetArrayLength() == 0,
        _ => false,
    };
}
