using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// The three ways of evaluating the routed experts. Each returns Σₑ wₑ · FFNₑ(x) per token as an fp32 [N, H]
/// accumulator; they differ only in which frozen GEMMs are shared between experts.
/// </summary>
internal static class ExpertPaths
{
    public static Tensor Run(ExpertPath path, RoutingPlan plan, FeedForward ffn, IReadOnlyList<ExpertLoras> experts,
        Func<Tensor, Tensor> activation) => path switch
        {
            ExpertPath.Vanilla => Vanilla(plan, ffn, experts, activation),
            ExpertPath.Shared => Shared(plan, ffn, experts, activation),
            ExpertPath.Fused => Fused(plan, ffn, experts, activation),
            _ => throw new ArgumentOutOfRangeException(nameof(path), path, "resolve Auto before running"),
        };

    /// <summary>Every expert runs W1, W3 and W2 (with its LoRAs) on its own tokens (spec §1.6).</summary>
    private static Tensor Vanilla(RoutingPlan plan, FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation)
    {
        var x = plan.ExpertInput;                                                     // [N, H]
        var output = NewAccumulator(x, x.shape[1]);                                   // [N, H] fp32
        for (int e = 0; e < experts.Count; e++)
        {
            var tokens = plan.Tokens[e];
            if (tokens.numel() == 0) continue;
            using var scope = NewDisposeScope();
            var xe = x.index_select(0, tokens);                                      // [n_e, H]
            var gate = Adapt(experts[e].GateProj, xe, ffn.GateProj.ForwardBase(xe));  // [n_e, I]
            var up = Adapt(experts[e].UpProj, xe, ffn.UpProj.ForwardBase(xe));        // [n_e, I]
            var activated = activation(gate) * up;
            var down = Adapt(experts[e].DownProj, activated, ffn.DownProj.ForwardBase(activated)); // [n_e, H]
            output.index_add_(0, tokens, Weighted(down.to(ScalarType.Float32), plan.Weights[e]), 1.0);
        }
        return output;
    }

    /// <summary>W1 x and W3 x computed once for all tokens and sliced per expert; W2 per expert (spec §1.5).</summary>
    private static Tensor Shared(RoutingPlan plan, FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation)
    {
        var x = plan.ExpertInput;                                                     // [N, H]
        var commonGate = ffn.GateProj.ForwardBase(x);                                 // [N, I]
        var commonUp = ffn.UpProj.ForwardBase(x);                                     // [N, I]
        var output = NewAccumulator(x, x.shape[1]);                                   // [N, H] fp32
        for (int e = 0; e < experts.Count; e++)
        {
            var tokens = plan.Tokens[e];
            if (tokens.numel() == 0) continue;
            using var scope = NewDisposeScope();
            var activated = Activated(x, tokens, commonGate, commonUp, experts[e], activation); // [n_e, I]
            var down = Adapt(experts[e].DownProj, activated, ffn.DownProj.ForwardBase(activated)); // [n_e, H]
            output.index_add_(0, tokens, Weighted(down.to(ScalarType.Float32), plan.Weights[e]), 1.0);
        }
        return output;
    }

    /// <summary>
    /// Shared, plus one W2 GEMM for all experts: Σₑ wₑ (W2 aₑ + b) = W2 (Σₑ wₑ aₑ) + (Σₑ wₑ) b. Each expert adds only
    /// its weighted W2-LoRA delta. Requires plain LoRA (no DoRA) on every expert's down_proj.
    /// </summary>
    private static Tensor Fused(RoutingPlan plan, FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation)
    {
        var x = plan.ExpertInput;                                                     // [N, H]
        var commonGate = ffn.GateProj.ForwardBase(x);                                 // [N, I]
        var commonUp = ffn.UpProj.ForwardBase(x);                                     // [N, I]
        var output = NewAccumulator(x, x.shape[1]);                                   // [N, H] fp32: LoRA deltas
        var mixed = NewAccumulator(x, commonGate.shape[1]);                           // [N, I] fp32: Σₑ wₑ aₑ
        var weightSums = NewAccumulator(x, 1);                                        // [N, 1] fp32: Σₑ wₑ
        for (int e = 0; e < experts.Count; e++)
        {
            var tokens = plan.Tokens[e];
            if (tokens.numel() == 0) continue;
            using var scope = NewDisposeScope();
            var weight = plan.Weights[e];
            var activated = Activated(x, tokens, commonGate, commonUp, experts[e], activation); // [n_e, I]
            mixed.index_add_(0, tokens, Weighted(activated.to(ScalarType.Float32), weight), 1.0);
            weightSums.index_add_(0, tokens, weight ?? ones(tokens.shape[0], 1, dtype: ScalarType.Float32, device: x.device), 1.0);
            if (experts[e].DownProj is { } downLora)
                output.index_add_(0, tokens, Weighted(downLora.Delta(activated), weight), 1.0); // [n_e, H]
        }
        var down = ffn.DownProj;
        output = output + nn.functional.linear(mixed.to(x.dtype), down.Weight).to(ScalarType.Float32); // [N, I] -> [N, H]
        if (down.Bias is not null) output = output + weightSums * down.Bias.to(ScalarType.Float32);
        return output;
    }

    /// <summary>act(W1 x + LoRA₁) ⊙ (W3 x + LoRA₃) for one expert's tokens, from the shared base outputs.</summary>
    private static Tensor Activated(Tensor x, Tensor tokens, Tensor commonGate, Tensor commonUp, ExpertLoras expert,
        Func<Tensor, Tensor> activation)
    {
        var gate = commonGate.index_select(0, tokens);                                // [n_e, I]
        var up = commonUp.index_select(0, tokens);                                    // [n_e, I]
        if (expert.GateProj is not null || expert.UpProj is not null)
        {
            var xe = x.index_select(0, tokens);                                      // [n_e, H]
            gate = Adapt(expert.GateProj, xe, gate);
            up = Adapt(expert.UpProj, xe, up);
        }
        return activation(gate) * up;
    }

    private static Tensor Adapt(LoraLinear? lora, Tensor input, Tensor baseOutput) =>
        lora is null ? baseOutput : lora.Apply(input, baseOutput);

    private static Tensor Weighted(Tensor values, Tensor? weight) => weight is null ? values : values * weight;

    private static Tensor NewAccumulator(Tensor like, long columns) =>
        zeros(like.shape[0], columns, dtype: ScalarType.Float32, device: like.device);
}
