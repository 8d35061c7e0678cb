using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>Next-token cross-entropy: logits at positions 0..T−2 against the ids at 1..T−1.</summary>
public static class CausalLmLoss
{
    /// <summary>
    /// logits: [B, T, V]; inputIds: [B, T]; labelMask: [B, T] with 1 where the token at that position is a target
    /// (e.g. not padding), or null to count every position. Returns the mean over counted targets (fp32 scalar).
    /// </summary>
    public static Tensor Compute(Tensor logits, Tensor inputIds, Tensor? labelMask = null)
    {
        using var scope = NewDisposeScope();
        long vocab = logits.shape[2];
        var predictions = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, vocab).to(ScalarType.Float32); // [B, T-1, V] -> [B*(T-1), V]
        var targets = inputIds.narrow(1, 1, inputIds.shape[1] - 1).reshape(-1);                               // [B, T-1] -> [B*(T-1)]
        Tensor loss;
        if (labelMask is null)
        {
            loss = nn.functional.cross_entropy(predictions, targets);
        }
        else
        {
            var weights = labelMask.narrow(1, 1, labelMask.shape[1] - 1).reshape(-1).to(ScalarType.Float32); // [B*(T-1)]
            var perToken = nn.functional.cross_entropy(predictions, targets, reduction: nn.Reduction.None);
            loss = (perToken * weights).sum() / weights.sum().clamp_min(1);
        }
        return loss.MoveToOuterDisposeScope();
    }
}
