using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>The three routing strategies (spec §1.4, §1.8, §1.9) turning hidden states into a <see cref="RoutingPlan"/>.</summary>
internal static class MoeRouting
{
    /// <summary>hidden [B, T, H] -> plan for N = B·T tokens. Tensors are created in the caller's dispose scope.</summary>
    public static RoutingPlan Route(Tensor hidden, Tensor routerWeight, MoeSettings settings, bool training, Generator? generator) =>
        settings.Strategy switch
        {
            RoutingStrategy.TopK => TopK(hidden, routerWeight, settings, training, generator),
            RoutingStrategy.Dynamic => Dynamic(hidden, routerWeight, settings, training, generator),
            RoutingStrategy.Switch => Switch(hidden, routerWeight, settings, training, generator),
            _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Strategy, null),
        };

    private static RoutingPlan TopK(Tensor hidden, Tensor routerWeight, MoeSettings settings, bool training, Generator? generator)
    {
        var x = Flatten(Jitter(hidden, settings, training, generator));               // [B, T, H] -> [N, H]
        var logits = nn.functional.linear(x.to(ScalarType.Float32), routerWeight);    // [N, E] fp32
        var probs = logits.softmax(-1);
        var (top, slots) = probs.topk(settings.TopK, dim: -1);                        // [N, K] each
        var weights = top / top.sum(-1, keepdim: true);                               // renormalised: rows sum to 1
        long n = x.shape[0];
        // Slot-major enumeration (all slot-0 picks, then slot-1 ...), as the reference's where() over [K, N].
        var experts = slots.t().reshape(-1);                                          // [K·N]
        var tokens = arange(n, dtype: ScalarType.Int64, device: x.device).repeat(settings.TopK);
        var (perExpertTokens, perExpertWeights) = GroupByExpert(experts, tokens, weights.t().reshape(-1), settings.NumExperts);
        return new RoutingPlan
        {
            Logits = logits, Probabilities = probs, ExpertInput = x,
            Tokens = perExpertTokens, Weights = perExpertWeights,
        };
    }

    private static RoutingPlan Dynamic(Tensor hidden, Tensor routerWeight, MoeSettings settings, bool training, Generator? generator)
    {
        var x = Flatten(Jitter(hidden, settings, training, generator));               // [N, H]
        var logits = nn.functional.linear(x.to(ScalarType.Float32), routerWeight);    // [N, E]
        var probs = logits.softmax(-1);
        var (sorted, indices, selected) = TopPSelection.Select(probs, settings.TopP, settings.Temperature);
        long n = x.shape[0];
        // Position-major enumeration over the E sorted positions; unselected positions are dropped.
        var keep = selected.t().reshape(-1);                                          // [E·N] bool
        var experts = indices.t().reshape(-1).masked_select(keep);
        var tokens = arange(n, dtype: ScalarType.Int64, device: x.device).repeat(settings.NumExperts).masked_select(keep);
        var weights = sorted.t().reshape(-1).masked_select(keep);                     // raw probabilities, no renormalisation
        var (perExpertTokens, perExpertWeights) = GroupByExpert(experts, tokens, weights, settings.NumExperts);
        return new RoutingPlan
        {
            Logits = logits, Probabilities = probs, ExpertInput = x,
            Tokens = perExpertTokens, Weights = perExpertWeights,
        };
    }

    private static RoutingPlan Switch(Tensor hidden, Tensor routerWeight, MoeSettings settings, bool training, Generator? generator)
    {
        long b = hidden.shape[0], t = hidden.shape[1], n = b * t;
        var h = hidden.to(ScalarType.Float32);
        // Jitter is not in place here: only the router sees it, experts consume the clean states.
        var routed = Jitter(h, settings, training, generator);
        var logits = nn.functional.linear(routed, routerWeight);                      // [B, T, E]
        var probs = logits.softmax(-1);
        var (best, choice) = probs.max(-1);                                           // [B, T] each
        var oneHot = nn.functional.one_hot(choice, settings.NumExperts);              // [B, T, E] int64
        // Capacity per sequence: the rank of a token among the earlier tokens of its sequence sent to the same expert.
        var rank = oneHot.cumsum(1);
        var kept = oneHot.mul(rank.le(settings.ExpertCapacity)).sum(-1).gt(0).reshape(n); // [N] bool
        var experts = choice.reshape(n).masked_select(kept);
        var tokens = arange(n, dtype: ScalarType.Int64, device: hidden.device).masked_select(kept);
        var (perExpertTokens, _) = GroupByExpert(experts, tokens, null, settings.NumExperts);
        return new RoutingPlan
        {
            Logits = logits.reshape(n, settings.NumExperts), Probabilities = probs.reshape(n, settings.NumExperts),
            ExpertInput = Flatten(hidden),
            Tokens = perExpertTokens, Weights = new Tensor?[settings.NumExperts],
            PassThrough = kept.logical_not().to(ScalarType.Float32).unsqueeze(1),      // [N, 1]
            OutputScale = best.reshape(n, 1),                                         // [N, 1]
        };
    }

    private static Tensor Flatten(Tensor hidden) => hidden.reshape(-1, hidden.shape[^1]);

    private static Tensor Jitter(Tensor hidden, MoeSettings settings, bool training, Generator? generator)
    {
        if (!training || settings.JitterNoise <= 0) return hidden;
        var noise = empty_like(hidden).uniform_(1.0 - settings.JitterNoise, 1.0 + settings.JitterNoise, generator);
        return hidden * noise;
    }

    /// <summary>
    /// Splits flat (expert, token, weight) triples [M] into per-expert lists, keeping their order within an expert
    /// (stable sort), with one host synchronisation for the counts.
    /// </summary>
    private static (Tensor[] Tokens, Tensor?[] Weights) GroupByExpert(Tensor experts, Tensor tokens, Tensor? weights, int numExperts)
    {
        var (_, order) = experts.sort(0, descending: false, stable: true);
        var counts = experts.bincount(null, numExperts).data<long>().ToArray();
        var sortedTokens = tokens.index_select(0, order).split(counts);
        Tensor?[] sortedWeights = weights is null
            ? new Tensor?[numExperts]
            : weights.index_select(0, order).unsqueeze(1).split(counts);
        return (sortedTokens, sortedWeights);
    }
}
