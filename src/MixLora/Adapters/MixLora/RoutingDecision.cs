using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// What a router decided for N = B·T tokens (for analysis and tests; the caller disposes the tensors).
/// </summary>
/// <param name="Logits">Raw router logits [N, E] fp32.</param>
/// <param name="Probabilities">softmax(logits) [N, E] fp32.</param>
/// <param name="Weights">[N, E] fp32: the factor applied to expert e's FFN output for token n (0 when not selected;
/// top-k: renormalised probability; dynamic: raw, possibly temperature-divided probability; switch: router probability).</param>
/// <param name="Selected">[N, E] bool: expert e serves token n.</param>
/// <param name="Dropped">[N] bool: switch tokens over capacity (their output is router probability × input); all false otherwise.</param>
public sealed record RoutingDecision(Tensor Logits, Tensor Probabilities, Tensor Weights, Tensor Selected, Tensor Dropped) : IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        Probabilities.Dispose();
        Weights.Dispose();
        Selected.Dispose();
        Dropped.Dispose();
    }
}
