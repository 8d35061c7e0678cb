namespace MixLora.Adapters;

/// <summary>
/// The hyper-parameters of one LoRA module (resolved from an adapter config, or from its <c>expert_lora</c> override).
/// </summary>
public sealed record LoraSettings
{
    public required int Rank { get; init; }
    public required double Alpha { get; init; }
    public double Dropout { get; init; }
    public bool UseRsLora { get; init; }
    public bool UseDora { get; init; }

    /// <summary>"original" (A kaiming-uniform, B = 0) or "gaussian" (A ~ N(0, 1/r), B = 0).</summary>
    public string Init { get; init; } = "original";

    /// <summary>
    /// QUIRK-COMPAT (spec §3.1): the reference keeps LoRA dropout active at inference. Off by default: dropout runs
    /// only in training mode.
    /// </summary>
    public bool DropoutAtInference { get; init; }

    /// <summary>s = alpha / r, or alpha / sqrt(r) with rsLoRA.</summary>
    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;
}
