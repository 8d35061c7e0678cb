namespace MixLora.Adapters;

/// <summary>Run-time choices for an attached adapter that are not part of its file format.</summary>
public sealed record AdapterOptions
{
    /// <summary>How MixLoRA experts are computed: Auto (the fastest correct one), Vanilla, Shared or Fused.</summary>
    public ExpertPath ExpertPath { get; init; } = ExpertPath.Auto;

    /// <summary>
    /// QUIRK-COMPAT (spec §3.1): keep LoRA dropout active at inference as the reference does. Off by default.
    /// </summary>
    public bool LoraDropoutAtInference { get; init; }

    /// <summary>Load adapter weights even when a tensor holds NaN or ±Inf (refused by default).</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>Seed of the random initialisation (fresh adapters) and of dropout/jitter.</summary>
    public long Seed { get; init; }
}
