using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>The dynamic (top-p) expert selection of spec §1.9, shared by routing and the dynamic router loss.</summary>
internal static class TopPSelection
{
    /// <summary>
    /// probabilities [N, E] -> experts sorted by descending (temperature-scaled) probability: Sorted [N, E] values,
    /// Indices [N, E] expert ids, Selected [N, E] bool. A position is selected while the cumulative mass before it has
    /// not exceeded top_p; the position that crosses the threshold is included, so at least one expert is selected.
    /// </summary>
    public static (Tensor Sorted, Tensor Indices, Tensor Selected) Select(Tensor probabilities, double topP, double temperature)
    {
        using var scope = NewDisposeScope();
        // QUIRK (spec §1.9): the temperature divides the probabilities, not the logits.
        var p = temperature > 0 ? probabilities / temperature : probabilities;
        var (sorted, indices) = p.sort(-1, descending: true);                       // [N, E] each
        var crossed = sorted.cumsum(-1).gt(topP);                                     // [N, E] bool
        // First crossing position (argmax returns the first maximum; 0 when nothing crosses, then all are kept anyway).
        var first = crossed.to(ScalarType.Int64).argmax(-1, keepdim: true);          // [N, 1]
        var positions = arange(p.shape[1], dtype: ScalarType.Int64, device: p.device).unsqueeze(0); // [1, E]
        var selected = crossed.logical_not().logical_or(positions.eq(first));        // [N, E]
        return (sorted.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope(), selected.MoveToOuterDisposeScope());
    }
}
