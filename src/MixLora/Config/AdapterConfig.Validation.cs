using MixLora.Models;

namespace MixLora.Config;

public sealed partial record AdapterConfig
{
    /// <summary>
    /// Checks every key; errors are <see cref="InvalidFileException"/>s naming <paramref name="file"/> and the key.
    /// With <paramref name="baseModel"/>, also checks that the base model has every target module. Stricter than the
    /// reference where it silently ignores mistakes: unknown target names, top_k &gt; num_experts, a bias mode.
    /// </summary>
    public void Validate(string file, ModelConfig? baseModel = null)
    {
        void Fail(string problem) => throw new InvalidFileException(file, problem);

        if (PeftType is { } peft && !PeftTypes.Contains(peft))
        {
            Fail(peft is "LORAMOE" or "MOLA"
                ? $"peft_type \"{peft}\" is not supported by this library (supported: {string.Join(", ", PeftTypes)})"
                : $"unknown peft_type \"{peft}\" (valid: {string.Join(", ", PeftTypes)})");
        }
        ValidateRoutingStrategy(Fail);
        if (Bias != "none") Fail($"key \"bias\" = \"{Bias}\" is not supported (only \"none\")");
        ValidateLora("", R, LoraAlpha, LoraDropout, LoraInit, Fail, required: true);
        ValidateTargets(Fail, baseModel);
        if (IsMixLora) ValidateMixLora(Fail);
    }

    private void ValidateRoutingStrategy(Action<string> fail)
    {
        var strategy = RoutingStrategy;
        if (strategy is null)
        {
            if (EffectivePeftType == MixLoraPeftType)
                fail($"missing key \"routing_strategy\" (required for peft_type MIXLORA; valid: {string.Join(", ", RoutingStrategies)})");
            return;
        }
        if (LegacyRoutingStrategies.TryGetValue(strategy, out var modern))
            fail($"routing_strategy \"{strategy}\" is the legacy m-LoRA format (now \"{modern}\"); convert the adapter with LegacyAdapterConverter first");
        if (strategy is "loramoe" or "mola")
            fail($"routing_strategy \"{strategy}\" is not supported by this library (supported: {string.Join(", ", RoutingStrategies)})");
        if (!RoutingStrategies.Contains(strategy))
            fail($"unknown routing_strategy \"{strategy}\" (valid: {string.Join(", ", RoutingStrategies)})");
        if (PeftType == LoraPeftType)
            fail($"key \"routing_strategy\" = \"{strategy}\" contradicts peft_type \"LORA\" (use peft_type \"MIXLORA\", or remove routing_strategy)");
    }

    private static void ValidateLora(string prefix, int? r, int? alpha, double? dropout, string? init, Action<string> fail, bool required)
    {
        if (r is null && required) fail($"missing key \"{prefix}r\" (the LoRA rank, an integer > 0)");
        if (r is <= 0) fail($"key \"{prefix}r\" must be an integer > 0, got {r}");
        if (alpha is null && required) fail($"missing key \"{prefix}lora_alpha\" (an integer > 0)");
        if (alpha is <= 0) fail($"key \"{prefix}lora_alpha\" must be an integer > 0, got {alpha}");
        if (dropout is null && required) fail($"missing key \"{prefix}lora_dropout\" (a probability in [0, 1))");
        if (dropout is { } p && !(p >= 0 && p < 1)) fail($"key \"{prefix}lora_dropout\" must be in [0, 1), got {p}");
        if (init is not null && !LoraInits.Contains(init))
            fail($"unknown {prefix}lora_init \"{init}\" (valid: {string.Join(", ", LoraInits)})");
    }

    private void ValidateTargets(Action<string> fail, ModelConfig? baseModel)
    {
        if (TargetModules is null) fail("missing key \"target_modules\" (a list of projection names such as \"q_proj\")");
        if (TargetModules!.Count == 0) fail("key \"target_modules\" enables no projection; enable at least one");
        foreach (var name in TargetModules)
        {
            if (AdapterTargetModules.LegacyNames.TryGetValue(name, out var modern))
                fail($"target_modules: \"{name}\" is a legacy m-LoRA name (now \"{modern}\"); convert the adapter with LegacyAdapterConverter first");
            if (!AdapterTargetModules.IsKnown(name))
                fail($"target_modules: unknown projection \"{name}\" (known: {string.Join(", ", AdapterTargetModules.GlobalOrder)})");
        }
        if (baseModel is null) return;
        var (attention, ffn) = AdapterTargetModules.ForModelType(baseModel.ModelType);
        foreach (var name in TargetModules)
        {
            if (!attention.Contains(name) && !ffn.Contains(name))
                fail($"target_modules: model_type \"{baseModel.ModelType}\" has no projection \"{name}\" (it has: {string.Join(", ", attention.Concat(ffn))})");
        }
    }

    private void ValidateMixLora(Action<string> fail)
    {
        if (NumExperts is null) fail("missing key \"num_experts\" (an integer > 0)");
        if (NumExperts <= 0) fail($"key \"num_experts\" must be an integer > 0, got {NumExperts}");
        int experts = NumExperts!.Value;
        if (IsTopKRouting && EffectiveTopK is var k && (k <= 0 || k > experts))
            fail($"key \"top_k\" must be in [1, num_experts = {experts}], got {k}");
        if (IsDynamicRouting)
        {
            if (!(EffectiveTopP > 0 && EffectiveTopP <= 1)) fail($"key \"top_p\" must be in (0, 1], got {EffectiveTopP}");
            RequireNonNegative("temperature", EffectiveTemperature, fail);
        }
        if (IsSwitchRouting)
        {
            if (EffectiveExpertCapacity <= 0) fail($"key \"expert_capacity\" must be an integer > 0, got {EffectiveExpertCapacity}");
            if (SparseStep is <= 0) fail($"key \"sparse_step\" must be null or an integer > 0, got {SparseStep}");
            RequireNonNegative("router_z_loss_coef", EffectiveRouterZLossCoef, fail);
            if (!(EffectiveFfnDropout >= 0 && EffectiveFfnDropout < 1)) fail($"key \"ffn_dropout\" must be in [0, 1), got {EffectiveFfnDropout}");
        }
        RequireNonNegative("jitter_noise", EffectiveJitterNoise, fail);
        RequireNonNegative("router_aux_loss_coef", EffectiveRouterAuxLossCoef, fail);
        RequireNonNegative("router_init_range", EffectiveRouterInitRange, fail);
        if (ActFn is { } act && !Activations.IsSupported(act))
            fail($"key \"act_fn\": activation \"{act}\" is not supported (supported: {string.Join(", ", Activations.Names)})");
        if (ExpertLoraOverrides is { } e)
        {
            ValidateLora("expert_lora.", e.R, e.LoraAlpha, e.LoraDropout, e.LoraInit, fail, required: false);
            if (e.Bias is { } bias && bias != "none") fail($"key \"expert_lora.bias\" = \"{bias}\" is not supported (only \"none\")");
        }
    }

    private static void RequireNonNegative(string key, double value, Action<string> fail)
    {
        if (!(value >= 0)) fail($"key \"{key}\" must be >= 0, got {value}");
    }
}
