namespace MixLora.Adapters;

/// <summary>
/// The routing hyper-parameters of a MixLoRA block (spec §4.2). Property defaults are the reference defaults of
/// the top-k strategy; <see cref="DefaultsFor"/> gives the per-strategy defaults (switch uses jitter 0.01).
/// </summary>
public sealed record MoeSettings
{
    public required RoutingStrategy Strategy { get; init; }
    public required int NumExperts { get; init; }

    /// <summary>Experts per token for <see cref="RoutingStrategy.TopK"/>.</summary>
    public int TopK { get; init; } = 2;

    /// <summary>Probability mass threshold for <see cref="RoutingStrategy.Dynamic"/>, in (0, 1].</summary>
    public double TopP { get; init; } = 0.8;

    /// <summary>Dynamic routing: when &gt; 0 the probabilities (not the logits; reference QUIRK) are divided by it.</summary>
    public double Temperature { get; init; }

    /// <summary>Switch routing: tokens per sequence an expert accepts; later ones pass through.</summary>
    public int ExpertCapacity { get; init; } = 32;

    /// <summary>Training only: the router input is multiplied by U(1 − ε, 1 + ε) noise.</summary>
    public double JitterNoise { get; init; }

    /// <summary>Switch routing, training only: dropout on the block output.</summary>
    public double FfnDropout { get; init; }

    /// <summary>How experts are evaluated (all paths are numerically equivalent).</summary>
    public ExpertPath Path { get; init; } = ExpertPath.Auto;

    /// <summary>The reference defaults for <paramref name="strategy"/>.</summary>
    public static MoeSettings DefaultsFor(RoutingStrategy strategy, int numExperts) => new()
    {
        Strategy = strategy,
        NumExperts = numExperts,
        JitterNoise = strategy == RoutingStrategy.Switch ? 0.01 : 0.0,
    };

    /// <summary>Throws <see cref="MixLoraException"/> naming the first out-of-range value.</summary>
    public void Validate()
    {
        if (NumExperts <= 0) throw new MixLoraException($"num_experts must be > 0, got {NumExperts}");
        if (Strategy == RoutingStrategy.TopK && (TopK <= 0 || TopK > NumExperts))
            throw new MixLoraException($"top_k must be in [1, num_experts = {NumExperts}], got {TopK}");
        if (Strategy == RoutingStrategy.Dynamic && !(TopP > 0 && TopP <= 1))
            throw new MixLoraException($"top_p must be in (0, 1], got {TopP}");
        if (!(Temperature >= 0)) throw new MixLoraException($"temperature must be >= 0, got {Temperature}");
        if (Strategy == RoutingStrategy.Switch && ExpertCapacity <= 0)
            throw new MixLoraException($"expert_capacity must be > 0, got {ExpertCapacity}");
        if (!(JitterNoise >= 0 && JitterNoise < 1)) throw new MixLoraException($"jitter_noise must be in [0, 1), got {JitterNoise}");
        if (!(FfnDropout >= 0 && FfnDropout < 1)) throw new MixLoraException($"ffn_dropout must be in [0, 1), got {FfnDropout}");
    }
}
