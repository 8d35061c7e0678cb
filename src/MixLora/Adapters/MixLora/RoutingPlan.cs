using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// The outcome of routing N tokens: for every expert the tokens it serves (with their routing weights), and how the
/// experts' combined output becomes the block output. All tensors belong to the caller's dispose scope.
/// </summary>
internal sealed class RoutingPlan
{
    /// <summary>Raw router logits [N, E] fp32 (returned for the router losses).</summary>
    public required Tensor Logits { get; init; }

    /// <summary>softmax(logits) [N, E] fp32 (before any temperature; for statistics).</summary>
    public required Tensor Probabilities { get; init; }

    /// <summary>What the experts consume: [N, H] in the block's input dtype (jittered for top-k/dynamic in training).</summary>
    public required Tensor ExpertInput { get; init; }

    /// <summary>Per expert e: token indices [n_e] int64, slot-major then ascending (the reference's enumeration).</summary>
    public required Tensor[] Tokens { get; init; }

    /// <summary>Per expert e: routing weights [n_e, 1] fp32, or null when every weight is 1 (switch).</summary>
    public required Tensor?[] Weights { get; init; }

    /// <summary>Switch: [N, 1] fp32, 1 for tokens dropped by the capacity rule (they pass the FFN input through).</summary>
    public Tensor? PassThrough { get; init; }

    /// <summary>Switch: [N, 1] fp32 router probability of the chosen expert, scaling the whole output.</summary>
    public Tensor? OutputScale { get; init; }

    /// <summary>(token, expert) assignment counts [N, E] fp32, for <see cref="RouterStatistics"/>.</summary>
    public Tensor AssignmentCounts()
    {
        using var scope = NewDisposeScope();
        long n = Logits.shape[0];
        var counts = zeros(n, Tokens.Length, dtype: ScalarType.Float32, device: Logits.device);
        for (int e = 0; e < Tokens.Length; e++)
        {
            if (Tokens[e].numel() == 0) continue;
            var column = counts.select(1, e);
            column.index_add_(0, Tokens[e], ones(Tokens[e].shape[0], dtype: ScalarType.Float32, device: Logits.device), 1.0);
        }
        return counts.MoveToOuterDisposeScope();
    }
}
