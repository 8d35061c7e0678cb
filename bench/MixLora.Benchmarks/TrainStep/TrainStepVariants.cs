using MixLora.Adapters;
using MixLora.Config;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// The benchmark variants: the peer's five (base_fwd, lora r=80, mixlora_vanilla|shared|fused with E=8, top-2, r=16)
/// plus switch and dynamic routing on the fused path. Dropout is off, as in the peer.
/// </summary>
public static class TrainStepVariants
{
    public static readonly string[] All =
        ["base_fwd", "lora", "mixlora_vanilla", "mixlora_shared", "mixlora_fused", "mixlora_switch", "mixlora_dynamic"];

    public const int LoraRank = 80, LoraAlpha = 160;
    public const int Experts = 8, TopK = 2, ExpertRank = 16, ExpertAlpha = 32;
    public const double AuxCoef = 0.01;

    public static bool IsMixLora(string variant) => variant.StartsWith("mixlora_", StringComparison.Ordinal);

    /// <summary>The adapter of a variant (every projection of <paramref name="family"/> targeted), or null for the frozen forward.</summary>
    public static AdapterConfig? AdapterConfig(string variant, string family = "llama")
    {
        var (attention, ffn) = AdapterTargetModules.ForModelType(family);
        string targets = "[" + string.Join(", ", attention.Concat(ffn).Select(name => $"\"{name}\"")) + "]";
        string? json = variant switch
        {
            "base_fwd" => null,
            "lora" => $$"""{ "peft_type": "LORA", "r": {{LoraRank}}, "lora_alpha": {{LoraAlpha}}, "lora_dropout": 0.0, "target_modules": {{targets}} }""",
            "mixlora_vanilla" or "mixlora_shared" or "mixlora_fused" => MixLora("mixlora", ""),
            "mixlora_switch" => MixLora("mixlora-switch", ""),
            "mixlora_dynamic" => MixLora("mixlora-dynamic", ""),
            _ => throw new ArgumentException($"unknown variant '{variant}'; choose from {string.Join(", ", All)}"),
        };
        return json is null ? null : Config.AdapterConfig.Parse(json, $"(benchmark adapter {variant})");

        string MixLora(string routing, string extra) =>
            $$"""{ "peft_type": "MIXLORA", "routing_strategy": "{{routing}}", "num_experts": {{Experts}}, "top_k": {{TopK}}, "r": {{ExpertRank}}, "lora_alpha": {{ExpertAlpha}}, "lora_dropout": 0.0, "router_aux_loss_coef": {{AuxCoef}}, "router_init_range": 0.02, "target_modules": {{targets}}{{extra}} }""";
    }

    public static ExpertPath ExpertPath(string variant) => variant switch
    {
        "mixlora_vanilla" => Adapters.ExpertPath.Vanilla,
        "mixlora_shared" => Adapters.ExpertPath.Shared,
        _ => Adapters.ExpertPath.Fused,
    };
}
