using MixLora.Config;
using MixLora.IO;

namespace MixLora.Adapters;

/// <summary>Human-readable facts about an adapter on a base model, for `mixlora info --adapter`.</summary>
public static class AdapterDescription
{
    /// <summary>(property, value) rows: type, routing, experts, ranks, trainable parameters and their share of the base.</summary>
    public static IReadOnlyList<(string Key, string Value)> Describe(AdapterConfig c, ModelConfig baseModel, long baseParameters)
    {
        long trainable = AdapterLayout.Expected(c, baseModel).Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b));
        var rows = new List<(string, string)>
        {
            ("type (peft_type)", c.EffectivePeftType),
            ("target modules", string.Join(", ", c.TargetModules ?? [])),
            ("LoRA r / alpha / dropout", $"{c.R} / {c.LoraAlpha} / {c.LoraDropout}" + Variants(c.UseDora, c.UseRsLora)),
        };
        if (c.IsMixLora)
        {
            var expert = c.ExpertLora;
            rows.Add(("routing", c.RoutingStrategy + (c.IsTopKRouting ? $", top_k {c.EffectiveTopK}"
                : c.IsDynamicRouting ? $", top_p {c.EffectiveTopP}, temperature {c.EffectiveTemperature}"
                : $", expert_capacity {c.EffectiveExpertCapacity}")));
            rows.Add(("experts per layer", $"{c.NumExperts} (activation {c.EffectiveActFn(baseModel)})"));
            rows.Add(("expert LoRA r / alpha / dropout", $"{expert.Rank} / {expert.Alpha} / {expert.Dropout}" + Variants(expert.UseDora, expert.UseRsLora)));
            rows.Add(("router loss", c.EffectiveRouterLoss ? $"on (aux coef {c.EffectiveRouterAuxLossCoef})" : "off"));
        }
        rows.Add(("trainable parameters", $"{trainable:N0} ({100.0 * trainable / baseParameters:F2} % of the base model's {baseParameters:N0})"));
        if (c.BaseModelNameOrPath is not null) rows.Add(("trained on (base_model_name_or_path)", c.BaseModelNameOrPath));
        return rows;
    }

    private static string Variants(bool dora, bool rslora) =>
        (dora ? ", DoRA" : "") + (rslora ? ", rsLoRA" : "");
}
