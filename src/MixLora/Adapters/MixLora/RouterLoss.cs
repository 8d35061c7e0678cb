using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// The router losses of the three MixLoRA strategies (spec §2.2–2.4). Every function takes one raw-logit tensor [N, E]
/// per MoE layer, in layer order, and pools all layers' rows (layer-major) as the reference does.
/// </summary>
public static class RouterLoss
{
    /// <summary>
    /// Top-k load-balancing loss (spec §2.2), raw (no coefficient): E · Σₖ Σₑ f[k, e] · P[e], with f the share of rows
    /// whose k-th choice is e and P the mean probability; with <paramref name="attentionMask"/> [B, T] both means skip padding.
    /// </summary>
    public static Tensor LoadBalancing(IReadOnlyList<Tensor> routerLogits, int numExperts, int topK, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        var probs = Concatenate(routerLogits, numExperts).softmax(-1);               // [R, E]
        var (_, chosen) = probs.topk(topK, dim: -1);                                 // [R, K]
        var oneHot = nn.functional.one_hot(chosen, numExperts).to(ScalarType.Float32); // [R, K, E]
        Tensor perSlot, meanProbs;
        if (attentionMask is null)
        {
            perSlot = oneHot.mean([0]);                                              // [K, E]
            meanProbs = probs.mean([0]);                                             // [E]
        }
        else
        {
            var rowMask = RowMask(attentionMask, probs.shape[0]);                   // [R]
            var total = rowMask.sum();
            perSlot = (oneHot * rowMask.view(-1, 1, 1)).sum([0L]) / total;
            meanProbs = (probs * rowMask.view(-1, 1)).sum([0L]) / total;
        }
        var loss = (perSlot * meanProbs.unsqueeze(0)).sum() * numExperts;
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Switch loss, MoE-PEFT HEAD form (spec §2.3): zLossCoef · mean((logsumexp logits)²) + auxLossCoef · E² · meanₑ(f[e] · P[e]),
    /// f from the argmax (capacity ignored), attention mask ignored.
    /// </summary>
    public static Tensor Switch(IReadOnlyList<Tensor> routerLogits, int numExperts, double zLossCoef, double auxLossCoef)
    {
        using var scope = NewDisposeScope();
        var logits = Concatenate(routerLogits, numExperts);                          // [R, E]
        var zLoss = logits.logsumexp(-1).square().mean();
        var probs = logits.softmax(-1);
        var share = nn.functional.one_hot(probs.argmax(-1), numExperts).to(ScalarType.Float32).mean([0]); // [E]
        var aux = (share * probs.mean([0])).mean() * (numExperts * (double)numExperts);
        return (zLoss * zLossCoef + aux * auxLossCoef).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Dynamic (top-p) loss (spec §2.4), raw: E · Σₑ f[e] · P[e] where f[e] is the mean number of selected sorted
    /// positions holding expert e per row (the sum over positions of the reference's f[pos, e]) and P the mean
    /// un-tempered probability. Attention mask ignored, as in the reference.
    /// </summary>
    public static Tensor Dynamic(IReadOnlyList<Tensor> routerLogits, int numExperts, double topP, double temperature)
    {
        using var scope = NewDisposeScope();
        var probs = Concatenate(routerLogits, numExperts).softmax(-1);               // [R, E]
        var (_, indices, selected) = TopPSelection.Select(probs, topP, temperature);
        var perExpert = zeros_like(probs).scatter(1, indices, selected.to(ScalarType.Float32)); // [R, E] 0/1
        var loss = (perExpert.mean([0]) * probs.mean([0])).sum() * numExperts;
        return loss.MoveToOuterDisposeScope();
    }

    private static Tensor Concatenate(IReadOnlyList<Tensor> routerLogits, int numExperts)
    {
        if (routerLogits.Count == 0) throw new ArgumentException("no router logits given", nameof(routerLogits));
        foreach (var logits in routerLogits)
            if (logits.dim() != 2 || logits.shape[1] != numExperts)
                throw new ArgumentException($"router logits must be [N, {numExperts}], got [{string.Join(", ", logits.shape)}]");
        var all = routerLogits.Count == 1 ? routerLogits[0] : cat(routerLogits.ToArray(), 0);
        return all.to(ScalarType.Float32);
    }

    /// <summary>[B, T] mask -> [R] row weights, repeated per layer (rows are layer-major, then batch, then position).</summary>
    private static Tensor RowMask(Tensor attentionMask, long rows)
    {
        if (attentionMask.dim() != 2) throw new ArgumentException($"attention mask must be [B, T], got [{string.Join(", ", attentionMask.shape)}]");
        long perLayer = attentionMask.numel();
        if (rows % perLayer != 0)
            throw new ArgumentException($"{rows} router-logit rows are not a whole number of layers of B·T = {perLayer} tokens");
        return attentionMask.reshape(-1).to(ScalarType.Float32).repeat(rows / perLayer);
    }
}
