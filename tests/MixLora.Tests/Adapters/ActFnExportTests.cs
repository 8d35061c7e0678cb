using System.Text.Json;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Adapters;

/// <summary>A saved MixLoRA adapter_config.json names its expert activation (act_fn), as the reference writes it.</summary>
public class ActFnExportTests
{
    private static JsonElement SavedConfig(string json, TempDir dir)
    {
        using var model = TinyModels.Create(TinyModels.Config(), seed: 2);
        using var adapter = Adapter.Create(model, AdapterConfig.Parse(json, "(test)"));
        string folder = dir.File("adapter");
        adapter.Save(folder);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "adapter_config.json"))).RootElement.Clone();
    }

    [Fact]
    public void MixLoraGetsTheBaseModelsActivationAndLoraNone()
    {
        using var dir = new TempDir();
        var mixlora = SavedConfig("""{ "peft_type": "MIXLORA", "routing_strategy": "mixlora", "num_experts": 2, "top_k": 1, "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["up_proj"] }""", dir);
        Assert.Equal(TinyModels.Config().Activation, mixlora.GetProperty("act_fn").GetString());
        // In the reference's key order: after num_experts, before top_k.
        var keys = mixlora.EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(keys.IndexOf("num_experts") < keys.IndexOf("act_fn") && keys.IndexOf("act_fn") < keys.IndexOf("top_k"), string.Join(",", keys));

        using var dir2 = new TempDir();
        var lora = SavedConfig("""{ "peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj"] }""", dir2);
        Assert.False(lora.TryGetProperty("act_fn", out _));
    }
}
