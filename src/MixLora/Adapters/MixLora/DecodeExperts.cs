using MixLora.Models;
using MixLora.Models.Kernels;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// The top-k MixLoRA block for a decode step's few tokens in one pass: routing (softmax, top-k, renormalised) and
/// every chosen expert's LoRAs run in plain loops over the tokens, around the frozen projections, which the decode
/// kernel computes once for all experts (W1 x, W3 x, and W2 of the weighted mix, as the fused path does). The general
/// path spends about eighty small libtorch ops per layer on grouping tokens by expert; at one token per row that
/// bookkeeping, not arithmetic, was the cost. Used only when it is exactly the same function: inference, silu
/// experts with plain LoRAs, an FFN without biases, no statistics being recorded.
/// </summary>
internal static class DecodeExperts
{
    /// <summary>hidden [B, T, H] with B·T ≤ 8 -> the block's output [B, T, H] and router logits [B·T, E], or null.</summary>
    public static FeedForwardOutput? TryRun(Tensor hidden, FeedForward ffn, Tensor routerWeight, IReadOnlyList<ExpertLoras> experts,
        MoeSettings settings, string activation)
    {
        long h = hidden.shape[^1];
        int tokens = (int)(hidden.numel() / h);
        if (!Applies(hidden, tokens, ffn, routerWeight, experts, settings, activation)) return null;
        using var scope = NewDisposeScope();
        var x = hidden.reshape(tokens, h).contiguous();                                   // [B, T, H] -> [N, H]
        var logits = SmallBatchLinear.Linear(x, routerWeight);                            // [N, E] fp32
        var gate = ffn.GateProj.ForwardBase(x);                                           // [N, I]
        var up = ffn.UpProj.ForwardBase(x);                                               // [N, I]
        long i = gate.shape[1];
        var mixed = zeros(tokens, i);                                                     // [N, I]: Σₖ wₖ aₖ
        var downDelta = zeros(tokens, h);                                                 // [N, H]: Σₖ wₖ s B₂A₂ aₖ
        var routing = logits.data<float>().ToArray();
        unsafe
        {
            int maxRank = experts.SelectMany(e => new[] { e.GateProj, e.UpProj, e.DownProj }).OfType<LoraLinear>().Select(l => (int)l.LoraA.shape[0]).DefaultIfEmpty(0).Max();
            long span = Math.Max(i, h);                                                   // g, then u (later B₂A₂a, [H]), then A·x
            var scratch = new float[2 * span + maxRank];
            fixed (float* work = scratch)
            {
                float* X = Ptr(x), G = Ptr(gate), U = Ptr(up), M = Ptr(mixed), D = Ptr(downDelta);
                for (int n = 0; n < tokens; n++)
                    foreach (var (expert, weight) in TopK(routing.AsSpan(n * settings.NumExperts, settings.NumExperts), settings.TopK))
                        AddExpert(experts[expert], weight, X + n * h, G + n * i, U + n * i, M + n * i, D + n * h, (int)h, (int)i, (int)span, work);
            }
        }
        var output = ffn.DownProj.ForwardBase(mixed).add_(downDelta);                   // [N, I] -> [N, H]
        return new FeedForwardOutput(output.view(hidden.shape).MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    private static bool Applies(Tensor hidden, int tokens, FeedForward ffn, Tensor routerWeight, IReadOnlyList<ExpertLoras> experts,
        MoeSettings settings, string activation) =>
        SmallBatchLinear.AppliesTo(tokens, ffn.GateProj.Weight) && settings.Strategy == RoutingStrategy.TopK && activation == "silu"
        && hidden.dtype == ScalarType.Float32 && hidden.shape[^1] % 8 == 0 && ffn.GateProj.InFeatures % 8 == 0 && ffn.GateProj.OutFeatures % 8 == 0
        && ffn.GateProj.Bias is null && ffn.UpProj.Bias is null && ffn.DownProj.Bias is null
        && ffn.GateProj.Deltas.Count == 0 && ffn.UpProj.Deltas.Count == 0 && ffn.DownProj.Deltas.Count == 0
        && routerWeight.dtype == ScalarType.Float32 && routerWeight.is_contiguous()
        && experts.All(e => Plain(e.GateProj) && Plain(e.UpProj) && Plain(e.DownProj));

    private static bool Plain(LoraLinear? lora) =>
        lora is null || (lora.Magnitude is null && !lora.IsDropoutActive && lora.LoraA.dtype == ScalarType.Float32 && lora.LoraB.dtype == ScalarType.Float32
                         && lora.LoraA.is_contiguous() && lora.LoraB.is_contiguous() && lora.LoraA.device_type == DeviceType.CPU);

    /// <summary>softmax over the router logits, the k largest (first index on ties), renormalised to sum to one.</summary>
    private static List<(int Expert, float Weight)> TopK(ReadOnlySpan<float> logits, int k)
    {
        float max = float.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        var probabilities = new float[logits.Length];
        float sum = 0;
        for (int e = 0; e < logits.Length; e++) sum += probabilities[e] = MathF.Exp(logits[e] - max);
        for (int e = 0; e < logits.Length; e++) probabilities[e] /= sum;
        var chosen = Enumerable.Range(0, logits.Length).OrderByDescending(e => probabilities[e]).ThenBy(e => e).Take(k).ToList();
        float kept = chosen.Sum(e => probabilities[e]);
        return chosen.Select(e => (e, probabilities[e] / kept)).ToList();
    }

    /// <summary>
    /// One expert on one token: a = silu(g0 + s₁B₁A₁x) ⊙ (u0 + s₃B₃A₃x); mixed += w·a; downDelta += w·s₂B₂A₂a.
    /// <paramref name="work"/> holds 2·<paramref name="span"/> + the largest rank floats: g [I], u [I] (then B₂A₂a [H]),
    /// the rank-sized A·x; span = max(I, H).
    /// </summary>
    private static unsafe void AddExpert(ExpertLoras expert, float weight, float* x, float* g0, float* u0, float* mixed, float* downDelta,
        int h, int i, int span, float* work)
    {
        float* g = work, u = work + span, rank = work + 2 * span;
        Adapted(expert.GateProj, x, g0, g, h, i, rank);
        Adapted(expert.UpProj, x, u0, u, h, i, rank);
        for (int j = 0; j < i; j++)
        {
            float a = g[j] / (1f + MathF.Exp(-g[j])) * u[j];
            g[j] = a;                                    // g now holds a, the down LoRA's input
            mixed[j] += weight * a;
        }
        if (expert.DownProj is not { } down) return;
        var (deltaScale, r) = ((float)down.Scaling * weight, (int)down.LoraA.shape[0]);
        float* a0 = (float*)SmallBatchLinear.DataPointer(down.LoraA), b0 = (float*)SmallBatchLinear.DataPointer(down.LoraB);
        for (int k = 0; k < r; k++) rank[k] = VectorOps.DotAnyLength(a0 + (long)k * i, g, i);   // A₂ a: [r]
        float* product = u;                                                                  // u is free now: B₂ (A₂ a) [H]
        VectorOps.RowDots(b0, rank, h, r, product);
        for (int j = 0; j < h; j++) downDelta[j] += deltaScale * product[j];
    }

    /// <summary>y = y0 + s·B(A x) for a projection of the expert (y = y0 when it has no LoRA there).</summary>
    private static unsafe void Adapted(LoraLinear? lora, float* x, float* y0, float* y, int h, int i, float* rank)
    {
        if (lora is null)
        {
            Buffer.MemoryCopy(y0, y, (long)i * sizeof(float), (long)i * sizeof(float));
            return;
        }
        int r = (int)lora.LoraA.shape[0];
        float s = (float)lora.Scaling;
        float* a = (float*)SmallBatchLinear.DataPointer(lora.LoraA), b = (float*)SmallBatchLinear.DataPointer(lora.LoraB);
        for (int k = 0; k < r; k++) rank[k] = VectorOps.DotAnyLength(a + (long)k * h, x, h);     // A x: [r]
        VectorOps.RowDots(b, rank, i, r, y);                                              // B (A x): [I]
        for (int j = 0; j < i; j++) y[j] = y0[j] + s * y[j];
    }

    private static unsafe float* Ptr(Tensor t) => (float*)SmallBatchLinear.DataPointer(t);
}
