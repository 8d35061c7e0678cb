using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO.Adapters;

public class LegacyAdapterConverterTests
{
    private static readonly Dictionary<string, string> ToLegacy = new() { ["gate_proj"] = "w1_proj", ["down_proj"] = "w2_proj", ["up_proj"] = "w3_proj" };

    /// <summary>Writes the golden adapter in the m-LoRA 0.3 layout (spec §5.5), tensors grouped expert-first.</summary>
    internal static void WriteLegacyGolden(string dir, string routing = "mixtral", bool legacyProjNames = true)
    {
        var config = JsonNode.Parse(File.ReadAllText(GoldenAdapter.ConfigPath))!.AsObject();
        config.Remove("peft_type");
        config["routing_strategy"] = routing;
        config["target_modules"] = new JsonArray(config["target_modules"]!.AsArray()
            .Select(n => (JsonNode?)JsonValue.Create(ToLegacy.GetValueOrDefault(n!.GetValue<string>(), n.GetValue<string>()))).ToArray());
        config["expand_side"] = "right"; // a legacy-only key, dropped by the conversion
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, AdapterFolder.ConfigFileName), config.ToJsonString());

        var golden = GoldenAdapter.BinTensors();
        var legacy = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, tensor) in golden)
        {
            var gate = Regex.Match(name, @"^mixlora\.layers\.(\d+)\.mlp\.moe_gate\.weight$");
            var expert = Regex.Match(name, @"^mixlora\.layers\.(\d+)\.mlp\.(\w+)\.experts\.(\d+)\.(lora_[AB]\.weight)$");
            var renamed = gate.Success ? $"mixlora.layers.{gate.Groups[1]}.gate.weight"
                : expert.Success ? $"mixlora.layers.{expert.Groups[1]}.experts.{expert.Groups[3]}.{(legacyProjNames ? ToLegacy[expert.Groups[2].Value] : expert.Groups[2].Value)}.{expert.Groups[4]}"
                : name;
            legacy.Add(new(renamed, tensor));
        }
        // Legacy files grouped experts expert-major; the converter must restore the official order anyway.
        legacy = legacy.OrderBy(kv => kv.Key.Contains(".experts.") ? 1 : 0).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        TorchBinFile.Save(Path.Combine(dir, AdapterFolder.BinFileName), legacy);
        GoldenAdapter.DisposeAll(golden);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ConvertedLegacyGoldenEqualsTheGoldenAdapter(bool legacyProjNames)
    {
        using var dir = new TempDir();
        var legacyDir = Path.Combine(dir.Path, "legacy");
        var outputDir = Path.Combine(dir.Path, "converted");
        WriteLegacyGolden(legacyDir, legacyProjNames: legacyProjNames);
        Assert.Contains("w1_proj", File.ReadAllText(Path.Combine(legacyDir, AdapterFolder.ConfigFileName)));

        LegacyAdapterConverter.Convert(legacyDir, outputDir);

        Assert.Equal(
            [AdapterFolder.ConfigFileName, AdapterFolder.BinFileName],
            Directory.GetFiles(outputDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(KeyValues(File.ReadAllText(GoldenAdapter.ConfigPath)), KeyValues(File.ReadAllText(Path.Combine(outputDir, AdapterFolder.ConfigFileName))));
        var golden = GoldenAdapter.BinTensors();
        var (config, converted) = AdapterFolder.Load(outputDir, GoldenAdapter.BaseModel);
        GoldenAdapter.AssertSameTensors(golden, converted);
        Assert.Equal(AdapterConfig.Load(GoldenAdapter.ConfigPath).ToJson(), config.ToJson());
        GoldenAdapter.DisposeAll(golden);
        GoldenAdapter.DisposeAll(converted);
    }

    [Fact]
    public void LegacySwitchBecomesMixLoraSwitchInPlace()
    {
        using var dir = new TempDir();
        WriteLegacyGolden(dir.Path, routing: "switch");
        LegacyAdapterConverter.Convert(dir.Path, dir.Path);
        var config = AdapterConfig.Load(Path.Combine(dir.Path, AdapterFolder.ConfigFileName));
        Assert.True(config.IsSwitchRouting);
        Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"], config.TargetModules);
        var (_, tensors) = AdapterFolder.Load(dir.Path, GoldenAdapter.BaseModel);
        GoldenAdapter.DisposeAll(tensors);
    }

    [Fact]
    public void ModernAdapterIsNotConverted()
    {
        using var dir = new TempDir();
        var error = Assert.Throws<InvalidFileException>(() => LegacyAdapterConverter.Convert(GoldenAdapter.Dir, dir.Path));
        Assert.Contains("already the current format", error.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void UnknownLegacyRoutingStrategyIsRejected()
    {
        using var dir = new TempDir();
        WriteLegacyGolden(dir.Path, routing: "expert-choice");
        var error = Assert.Throws<InvalidFileException>(() => LegacyAdapterConverter.Convert(dir.Path, Path.Combine(dir.Path, "out")));
        Assert.Contains("expert-choice", error.Message);
        Assert.Contains("\"mixtral\", \"switch\"", error.Message);
    }

    [Theory]
    [InlineData("{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, \"target_modules\": [\"q_proj\"]}", "not a legacy MixLoRA adapter")]
    [InlineData("{\"routing_strategy\": \"mixtral\", \"routing_strategy\": \"switch\"}", "not a valid JSON object")]
    [InlineData("{\"routing_strategy\": \"mixtral\", ", "not a valid JSON object")]
    [InlineData("{\"routing_strategy\": \"mixtral\", \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, \"target_modules\": [\"w1_proj\"], \"num_experts\": 2, \"top_k\": 3}", "top_k")]
    public void BadLegacyConfigIsRejected(string json, string fragment)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(AdapterFolder.ConfigFileName), json);
        var error = Assert.Throws<InvalidFileException>(() => LegacyAdapterConverter.Convert(dir.Path, Path.Combine(dir.Path, "out")));
        Assert.Contains(fragment, error.Message);
        Assert.Equal(dir.File(AdapterFolder.ConfigFileName), error.FilePath);
    }

    [Fact]
    public void ModernWeightsUnderALegacyConfigAreRejected()
    {
        using var dir = new TempDir();
        WriteLegacyGolden(dir.Path);
        File.Copy(Path.Combine(GoldenAdapter.Dir, AdapterFolder.BinFileName), Path.Combine(dir.Path, AdapterFolder.BinFileName), overwrite: true);
        var error = Assert.Throws<InvalidFileException>(() => LegacyAdapterConverter.Convert(dir.Path, Path.Combine(dir.Path, "out")));
        Assert.Contains("unexpected tensor \"mixlora.layers.0.mlp.moe_gate.weight\"", error.Message);
        Assert.Contains("current format", error.Message);
    }

    [Fact]
    public void LoadingALegacyAdapterPointsToTheConverter()
    {
        using var dir = new TempDir();
        WriteLegacyGolden(dir.Path);
        var error = Assert.Throws<InvalidFileException>(() => AdapterFolder.Load(dir.Path));
        Assert.Contains("LegacyAdapterConverter", error.Message);
    }

    private static SortedDictionary<string, string> KeyValues(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return new SortedDictionary<string, string>(
            doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => JsonSerializer.Serialize(p.Value)), StringComparer.Ordinal);
    }
}
