using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MixLora.Config;
using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// Converts a MixLoRA adapter saved by m-LoRA ≤ 0.4 (the paper-era format, spec §5.5) to the current format:
/// routing "mixtral" → "mixlora" and "switch" → "mixlora-switch"; FFN names w1/w2/w3_proj → gate/down/up_proj;
/// <c>mixlora.layers.{i}.gate.weight</c> → <c>mixlora.layers.{i}.mlp.moe_gate.weight</c>;
/// <c>mixlora.layers.{i}.experts.{e}.{proj}</c> → <c>mixlora.layers.{i}.mlp.{proj}.experts.{e}</c>; attention
/// LoRAs unchanged. No base model is needed: the layer count comes from the router tensors.
/// </summary>
public static partial class LegacyAdapterConverter
{
    [GeneratedRegex(@"^mixlora\.layers\.(\d{1,9})\.gate\.weight$")]
    private static partial Regex LegacyGate();

    [GeneratedRegex(@"^mixlora\.layers\.(\d{1,9})\.experts\.(\d{1,9})\.([A-Za-z0-9_]+)\.lora_([AB])\.weight$")]
    private static partial Regex LegacyExpert();

    [GeneratedRegex(@"^mixlora\.layers\.(\d{1,9})\.self_attn\.([A-Za-z0-9_]+)\.lora_([AB])\.weight$")]
    private static partial Regex Attention();

    /// <summary>Whether <paramref name="name"/> is a legacy router or expert tensor name.</summary>
    public static bool IsLegacyTensorName(string name) => LegacyGate().IsMatch(name) || LegacyExpert().IsMatch(name);

    /// <summary>
    /// Reads the legacy adapter in <paramref name="inputDir"/> and writes the converted one (config and
    /// <c>adapter_model.bin</c>) to <paramref name="outputDir"/>, which may be the same folder.
    /// </summary>
    /// <exception cref="MixLoraException">The input is missing, not a legacy MixLoRA adapter, or inconsistent.</exception>
    public static void Convert(string inputDir, string outputDir)
    {
        if (!Directory.Exists(inputDir)) throw new MixLoraException($"{inputDir}: adapter folder not found");
        var configPath = Path.Combine(inputDir, AdapterFolder.ConfigFileName);
        var config = ConvertConfig(configPath);
        var tensors = AdapterFolder.LoadWeights(inputDir);
        try
        {
            var converted = ConvertTensors(AdapterFolder.WeightsPath(inputDir), config, tensors);
            AdapterFolder.Save(outputDir, config, converted, AdapterWeightFormat.Bin);
        }
        finally
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
        }
    }

    private static AdapterConfig ConvertConfig(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidFileException(path, "file not found (an adapter folder needs adapter_config.json)");
        if (info.Length > 16L * 1024 * 1024) throw new InvalidFileException(path, $"{info.Length} bytes is too large for an adapter_config.json");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidFileException(path, "expected a JSON object at the top level");
            _ = root.Count; // materialises the properties, so that a repeated key fails here
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // JsonObject reports a repeated key with an ArgumentException.
            throw new InvalidFileException(path, $"not a valid JSON object: {e.Message}", e);
        }

        var legacyNames = string.Join(", ", AdapterConfig.LegacyRoutingStrategies.Keys.Select(k => $"\"{k}\""));
        var strategy = root["routing_strategy"] is JsonValue value && value.TryGetValue(out string? s) ? s : null;
        if (strategy is null)
            throw new InvalidFileException(path, $"not a legacy MixLoRA adapter: no string \"routing_strategy\" (legacy values: {legacyNames}; plain LoRA adapters need no conversion)");
        if (AdapterConfig.RoutingStrategies.Contains(strategy))
            throw new InvalidFileException(path, $"routing_strategy \"{strategy}\" is already the current format; nothing to convert");
        if (!AdapterConfig.LegacyRoutingStrategies.TryGetValue(strategy, out var modern))
            throw new InvalidFileException(path, $"unknown legacy routing_strategy \"{strategy}\" (the converter handles: {legacyNames})");

        root["routing_strategy"] = modern;
        root["peft_type"] = AdapterConfig.MixLoraPeftType;
        switch (root["target_modules"])
        {
            case JsonArray list:
                root["target_modules"] = new JsonArray(list.Select(n => (JsonNode?)JsonValue.Create(ModernName(n)))
                    .ToArray());
                break;
            case JsonObject map:
                var renamed = new JsonObject();
                foreach (var (name, enabled) in map) renamed[ModernTarget(name)] = enabled?.DeepClone();
                root["target_modules"] = renamed;
                break;
        }
        var config = AdapterConfig.ParseUnvalidated(root.ToJsonString(), path, allowUnknownKeys: true);
        config.Validate(path);
        return config;
    }

    private static string? ModernName(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue(out string? name) ? ModernTarget(name) : null;

    private static string ModernTarget(string name) => AdapterTargetModules.LegacyNames.GetValueOrDefault(name, name);

    private static List<KeyValuePair<string, torch.Tensor>> ConvertTensors(
        string weightsPath, AdapterConfig config, OrderedDictionary<string, torch.Tensor> tensors)
    {
        var targets = config.TargetModules!;
        var renamed = new Dictionary<string, (torch.Tensor Tensor, (int Layer, int Group, int Proj, int Expert, string Half) Order)>(StringComparer.Ordinal);
        var layers = new SortedSet<int>();

        void Add(string original, string name, torch.Tensor tensor, (int, int, int, int, string) order)
        {
            if (!renamed.TryAdd(name, (tensor, order)))
                throw new InvalidFileException(weightsPath, $"tensor \"{original}\" maps to \"{name}\", which another tensor already maps to (legacy and current names for the same weights?)");
        }

        int ProjIndex(string original, string proj)
        {
            if (!targets.Contains(proj))
                throw new InvalidFileException(weightsPath, $"tensor \"{original}\" belongs to projection \"{proj}\", which target_modules does not enable");
            return AdapterTargetModules.GlobalOrder.ToList().IndexOf(proj);
        }

        foreach (var (name, tensor) in tensors)
        {
            if (LegacyGate().Match(name) is { Success: true } gate)
            {
                int layer = int.Parse(gate.Groups[1].Value);
                layers.Add(layer);
                Add(name, $"{AdapterLayout.MixLoraPrefix}.layers.{layer}.mlp.moe_gate.weight", tensor, (layer, 1, 0, 0, ""));
            }
            else if (LegacyExpert().Match(name) is { Success: true } expert)
            {
                int layer = int.Parse(expert.Groups[1].Value), index = int.Parse(expert.Groups[2].Value);
                var proj = ModernTarget(expert.Groups[3].Value);
                var half = expert.Groups[4].Value;
                Add(name, $"{AdapterLayout.MixLoraPrefix}.layers.{layer}.mlp.{proj}.experts.{index}.lora_{half}.weight", tensor,
                    (layer, 2, ProjIndex(name, proj), index, half));
            }
            else if (Attention().Match(name) is { Success: true } attention)
            {
                int layer = int.Parse(attention.Groups[1].Value);
                Add(name, name, tensor, (layer, 0, ProjIndex(name, attention.Groups[2].Value), 0, attention.Groups[3].Value));
            }
            else
            {
                var hint = name.Contains(".mlp.moe_gate.") || name.Contains(".mlp.") ? " (this looks like the current format already)" : "";
                throw new InvalidFileException(weightsPath, $"unexpected tensor \"{name}\" for a legacy MixLoRA adapter{hint}");
            }
        }

        if (layers.Count == 0)
            throw new InvalidFileException(weightsPath, "not a legacy MixLoRA adapter: no router tensors named mixlora.layers.{i}.gate.weight");
        int layerCount = layers.Max + 1;
        if (layers.Count != layerCount)
            throw new InvalidFileException(weightsPath, $"layer(s) {string.Join(", ", Enumerable.Range(0, layerCount).Except(layers).Take(10))} have no router tensor mixlora.layers.{{i}}.gate.weight");
        var stray = renamed.Values.FirstOrDefault(v => v.Order.Layer >= layerCount);
        if (stray.Tensor is not null)
            throw new InvalidFileException(weightsPath, $"layer {stray.Order.Layer} has LoRA tensors but no router tensor");

        // The official insertion order (spec §5.3): per layer attention LoRAs, router, then experts per projection.
        return renamed
            .OrderBy(kv => kv.Value.Order.Layer).ThenBy(kv => kv.Value.Order.Group).ThenBy(kv => kv.Value.Order.Proj)
            .ThenBy(kv => kv.Value.Order.Expert).ThenBy(kv => kv.Value.Order.Half, StringComparer.Ordinal)
            .Select(kv => new KeyValuePair<string, torch.Tensor>(kv.Key, kv.Value.Tensor))
            .ToList();
    }
}
