namespace MixLora.Adapters;

/// <summary>
/// How the experts of a <see cref="MixLoraFeedForward"/> are evaluated. All paths compute the same function (up to
/// floating-point summation order); they differ in speed and memory.
/// </summary>
public enum ExpertPath
{
    /// <summary>The fastest valid path (see <see cref="MixLoraFeedForward.ResolvePath"/>).</summary>
    Auto,

    /// <summary>Every expert runs the whole FFN on its tokens (spec §1.6, the reference's "compatible" path).</summary>
    Vanilla,

    /// <summary>W1 x and W3 x computed once for all tokens, sliced per expert (spec §1.5, the reference's optimised path).</summary>
    Shared,

    /// <summary>
    /// Shared, and the frozen W2 applied once to the routing-weighted sum of the experts' activations; each expert then
    /// adds only its own W2-LoRA delta. Not valid with DoRA on down_proj (falls back to <see cref="Shared"/>).
    /// </summary>
    Fused,
}
