using MixLora.Models;
using MixLora.Models.Kernels;
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
            ExpertPath.Shared or ExpertPath.Fused when is_grad_enabled() && ExpertMixtureFunction.Supports(experts) =>
                ExpertMixtureFunction.Run(plan, ffn, experts, activation, fuseDown: path == ExpertPath.Fused),
            ExpertPath.Shared or ExpertPath.Fused => Mixture(plan.ExpertInput, ffn.GateProj?.ForwardBase(plan.ExpertInput),
                ffn.UpProj.ForwardBase(plan.ExpertInput), plan.Tokens, plan.Weights, ffn, experts, activation, fuseDown: path == ExpertPath.Fused),
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
            var activated = ExpertActivation(xe, ffn.GateProj?.ForwardBase(xe), ffn.UpProj.ForwardBase(xe), experts[e], activation); // [n_e, I]
            var down = Adapt(experts[e].DownProj, activated, ffn.DownProj.ForwardBase(activated)); // [n_e, H]
            output.index_add_(0, tokens, Weighted(down.to(ScalarType.Float32), plan.Weights[e]), 1.0);
        }
        return output;
    }

    /// <summary>
    /// The experts from W1 x and W3 x computed once for all N tokens (<paramref name="commonGate"/>, <paramref name="commonUp"/> [N, I];
    /// no gate in Phi's ungated FFN).
    /// Shared (spec §1.5): each expert applies W2 to its own tokens. Fused (<paramref name="fuseDown"/>): one W2 GEMM for
    /// all experts, Σₑ wₑ (W2 aₑ + b) = W2 (Σₑ wₑ aₑ) + (Σₑ wₑ) b, each expert adding only its weighted W2-LoRA delta
    /// (requires plain LoRA, no DoRA, on every expert's down_proj).
    /// </summary>
    public static Tensor Mixture(Tensor x, Tensor? commonGate, Tensor commonUp, Tensor[] tokensByExpert, Tensor?[] weightsByExpert,
        FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation, bool fuseDown)
    {
        var output = NewAccumulator(x, x.shape[1]);                                   // [N, H] fp32
        var mixed = fuseDown ? NewAccumulator(x, commonUp.shape[1]) : null;           // [N, I] fp32: Σₑ wₑ aₑ
        var weightSums = fuseDown && ffn.DownProj.Bias is not null ? NewAccumulator(x, 1) : null; // [N, 1] fp32: Σₑ wₑ
        for (int e = 0; e < experts.Count; e++)
        {
            var tokens = tokensByExpert[e];
            if (tokens.numel() == 0) continue;
            using var scope = NewDisposeScope();
            var weight = weightsByExpert[e];
            var activated = Activated(x, tokens, commonGate, commonUp, experts[e], activation); // [n_e, I]
            if (mixed is null)
            {
                var down = Adapt(experts[e].DownProj, activated, ffn.DownProj.ForwardBase(activated)); // [n_e, H]
                output.index_add_(0, tokens, Weighted(down.to(ScalarType.Float32), weight), 1.0);
                continue;
            }
            mixed.index_add_(0, tokens, Weighted(activated.to(ScalarType.Float32), weight), 1.0);
            weightSums?.index_add_(0, tokens, weight ?? ones(tokens.shape[0], 1, dtype: ScalarType.Float32, device: x.device), 1.0);
            if (experts[e].DownProj is { } downLora)
                output.index_add_(0, tokens, Weighted(downLora.Delta(activated), weight), 1.0); // [n_e, H]
        }
        if (mixed is null) return output;
        var downProj = ffn.DownProj;
        output.add_(SmallBatchLinear.Linear(mixed.to(x.dtype), downProj.Weight).to(ScalarType.Float32)); // [N, I] -> [N, H]
        if (weightSums is not null) output.add_(weightSums * downProj.Bias!.to(ScalarType.Float32));
        return output;
    }

    /// <summary>act(W1 x + LoRA₁) ⊙ (W3 x + LoRA₃) for one expert's tokens, from the shared base outputs.</summary>
    private static Tensor Activated(Tensor x, Tensor tokens, Tensor? commonGate, Tensor commonUp, ExpertLoras expert,
        Func<Tensor, Tensor> activation)
    {
        var gate = commonGate?.index_select(0, tokens);                               // [n_e, I]
        var up = commonUp.index_select(0, tokens);                                    // [n_e, I]
        var xe = expert.HasInputLora ? x.index_select(0, tokens) : null;              // [n_e, H]
        return ExpertActivation(xe, gate, up, expert, activation);
    }

    /// <summary>
    /// One expert's activated product a = act(g0ₑ + LoRA₁(xₑ)) ⊙ (u0ₑ + LoRA₃(xₑ)): xₑ [n_e, H] (null when no LoRA reads
    /// it), g0ₑ and u0ₑ [n_e, I] the frozen projections of its tokens -> [n_e, I]. Phi-3's one LoRA on the stacked
    /// projection adapts [g0ₑ, u0ₑ] as a whole; Phi's ungated expert (g0ₑ null) is act(u0ₑ + LoRA(xₑ)).
    /// </summary>
    public static Tensor ExpertActivation(Tensor? xe, Tensor? gate, Tensor up, ExpertLoras expert, Func<Tensor, Tensor> activation)
    {
        using var scope = NewDisposeScope();
        if (xe is not null && expert.GateUpProj is { } stacked)
        {
            long i = up.shape[1];
            var both = stacked.Apply(xe, cat([gate!, up], 1));                        // [n_e, 2I]
            (gate, up) = (both.narrow(1, 0, i), both.narrow(1, i, i));
        }
        else if (xe is not null)
        {
            gate = gate is null ? null : Adapt(expert.GateProj, xe, gate);
            up = Adapt(expert.UpProj, xe, up);
        }
        return (gate is null ? activation(up) : activation(gate) * up).MoveToOuterDisposeScope();
    }

    private static Tensor Adapt(LoraLinear? lora, Tensor input, Tensor baseOutput) =>
        lora is null ? baseOutput : lora.Apply(input, baseOutput);

    public static Tensor Weighted(Tensor values, Tensor? weight) => weight is null ? values : values * weight;

    private static Tensor NewAccumulator(Tensor like, long columns) =>
        zeros(like.shape[0], columns, dtype: ScalarType.Float32, device: like.device);
}
