using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// The <c>expert_lora</c> object of a MixLoRA adapter config: LoRA keys that override the top-level ones for the
/// expert LoRAs (spec §4.2). Absent keys inherit the adapter's top-level value.
/// </summary>
public sealed record ExpertLoraConfig
{
    [JsonPropertyName("r")] public int? R { get; init; }
    [JsonPropertyName("lora_alpha")] public int? LoraAlpha { get; init; }
    [JsonPropertyName("lora_dropout")] public double? LoraDropout { get; init; }
    [JsonPropertyName("lora_init")] public string? LoraInit { get; init; }
    [JsonPropertyName("use_dora")] public bool? UseDora { get; init; }
    [JsonPropertyName("use_rslora")] public bool? UseRsLora { get; init; }
    [JsonPropertyName("bias")] public string? Bias { get; init; }
}
