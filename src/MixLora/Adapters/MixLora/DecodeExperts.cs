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
/// bookkeeping, not arithmetic, was the cost. Used only when it is exactly the same function: inference, silu or
/// GELU-tanh (Gemma, Phi) experts with plain LoRAs, any FFN layout (LLaMA's, Phi-3's stacked one, Phi's ungated one
/// with biases), no statistics being recorded.
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
        var gate = ffn.GateProj?.ForwardBase(x);                                          // [N, I]; none in Phi's ungated FFN
        var up = ffn.UpProj.ForwardBase(x);                                               // [N, I]
        long i = up.shape[1];
        var mixed = zeros(tokens, i);                                                     // [N, I]: Σₖ wₖ aₖ
        var downDelta = zeros(tokens, h);                                                 // [N, H]: Σₖ wₖ s B₂A₂ aₖ
        var routing = logits.data<float>().ToArray();
        unsafe
        {
            int maxRank = experts.SelectMany(e => e.All).Select(l => (int)l.LoraA.shape[0]).DefaultIfEmpty(0).Max();
            var scratch = new float[2 * i + h + 3 * maxRank];                              // g, u (then a) [I]; B₂A₂a [H]; three rank vectors
            fixed (float* work = scratch)
            {
                float* X = Ptr(x), G = gate is null ? null : Ptr(gate), U = Ptr(up), M = Ptr(mixed), D = Ptr(downDelta);
                var buffers = new Scratch((IntPtr)work, (int)h, (int)i, maxRank, GeluTanh: activation is "gelu_pytorch_tanh" or "gelu_new");
                for (int n = 0; n < tokens; n++)
                    foreach (var (expert, weight) in TopK(routing.AsSpan(n * settings.NumExperts, settings.NumExperts), settings.TopK))
                        AddExpert(experts[expert], weight, X + n * h, G == null ? null : G + n * i, U + n * i, M + n * i, D + n * h, buffers);
            }
        }
        // A down_proj bias enters once: the routing weights of a token sum to one, so Σₖ wₖ (W₂aₖ + b) = W₂ Σₖ wₖaₖ + b.
        var output = ffn.DownProj.ForwardBase(mixed).add_(downDelta);                   // [N, I] -> [N, H]
        return new FeedForwardOutput(output.view(hidden.shape).MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    private static bool Applies(Tensor hidden, int tokens, FeedForward ffn, Tensor routerWeight, IReadOnlyList<ExpertLoras> experts,
        MoeSettings settings, string activation) =>
        SmallBatchLinear.AppliesTo(tokens, ffn.UpProj.Weight) && settings.Strategy == RoutingStrategy.TopK
        && activation is "silu" or "swish" or "gelu_pytorch_tanh" or "gelu_new"
        && hidden.dtype == ScalarType.Float32 && hidden.shape[^1] % 8 == 0 && ffn.UpProj.InFeatures % 8 == 0 && ffn.UpProj.OutFeatures % 8 == 0
        && (ffn.GateUpProj?.Deltas.Count ?? 0) == 0 && (ffn.GateProj?.Deltas.Count ?? 0) == 0
        && ffn.UpProj.Deltas.Count == 0 && ffn.DownProj.Deltas.Count == 0
        && routerWeight.dtype == ScalarType.Float32 && routerWeight.is_contiguous()
        && experts.All(e => e.All.All(lora => Plain(lora)));

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

    /// <summary>Rows per work chunk of the I- and H-sized loops (a multiple of 8, so RowDots groups rows as it would in one call).</summary>
    private const int RowsPerChunk = 256;

    /// <summary>
    /// The pinned work buffer: g [I], u [I] (u then holds a), B₂A₂a [H], and the three rank-sized A·x vectors; and the
    /// expert activation (silu, or Gemma's tanh-approximated GELU).
    /// </summary>
    private readonly unsafe record struct Scratch(IntPtr Work, int H, int I, int MaxRank, bool GeluTanh)
    {
        public float* G => (float*)Work;
        public float* U => G + I;
        public float* Product => U + I;
        public float* Rank(int which) => Product + H + which * MaxRank;
    }

    /// <summary>
    /// One expert on one token: a = act(g0 + s₁B₁A₁x) ⊙ (u0 + s₃B₃A₃x) (ungated, g0 null: act(u0 + s₃B₃A₃x)); mixed += w·a; downDelta += w·s₂B₂A₂a. The
    /// rank-sized products A·x run on this thread; the I- and H-sized ones (the LoRA B rows, the activation, the
    /// down LoRA's A) on the kernel threads, which are idle here otherwise. Phi-3's one LoRA on the stacked gate_up_proj
    /// is the gate's and the up's LoRA at once: one A·x, B's first I rows for the gate and the next I for the up.
    /// </summary>
    private static unsafe void AddExpert(ExpertLoras expert, float weight, float* x, float* g0, float* u0, float* mixed, float* downDelta, Scratch s)
    {
        int h = s.H, i = s.I;
        LoraRows? gate, up;
        if (Lora(expert.GateUpProj, x, h, s.Rank(0)) is { } stacked)
            (gate, up) = (stacked, stacked with { B = (IntPtr)((float*)stacked.B + (long)i * stacked.Rank) });
        else
            (gate, up) = (Lora(expert.GateProj, x, h, s.Rank(0)), Lora(expert.UpProj, x, h, s.Rank(1)));
        IntPtr g0p = (IntPtr)g0, u0p = (IntPtr)u0, mixedp = (IntPtr)mixed;
        DecodeWorkers.Run(Chunks(i), c =>
        {
            var (start, count) = Chunk(c, i);
            if (g0p != IntPtr.Zero) Adapted(gate, (float*)g0p, s.G, start, count);
            Adapted(up, (float*)u0p, s.U, start, count);
            ActivatedProductAccumulate(g0p == IntPtr.Zero ? null : s.G + start, s.U + start, (float*)mixedp + start, weight, count, s.GeluTanh); // u := a; mixed += w·a
        });
        if (expert.DownProj is not { } down) return;
        int r = (int)down.LoraA.shape[0];
        IntPtr a2 = SmallBatchLinear.DataPointer(down.LoraA), b2 = SmallBatchLinear.DataPointer(down.LoraB), deltap = (IntPtr)downDelta;
        float* rank = s.Rank(2);
        DecodeWorkers.Run((r + 3) / 4, c =>                                                                 // A₂ a: [r], four rows a chunk
        {
            for (int k = 4 * c; k < Math.Min(r, 4 * c + 4); k++) rank[k] = VectorOps.DotAnyLength((float*)a2 + (long)k * i, s.U, i);
        });
        float deltaScale = (float)down.Scaling * weight;
        DecodeWorkers.Run(Chunks(h), c =>                                                                   // B₂ (A₂ a): [H]
        {
            var (start, count) = Chunk(c, h);
            VectorOps.RowDots((float*)b2 + (long)start * r, rank, count, r, s.Product + start);
            float* delta = (float*)deltap;
            for (int j = start; j < start + count; j++) delta[j] += deltaScale * s.Product[j];
        });
    }

    /// <summary>A LoRA's B, scale and the A·x vector (computed here, [r]), or null for a projection without one.</summary>
    private readonly record struct LoraRows(IntPtr B, int Rank, float Scale, IntPtr RankVector);

    private static unsafe LoraRows? Lora(LoraLinear? lora, float* x, int h, float* rank)
    {
        if (lora is null) return null;
        int r = (int)lora.LoraA.shape[0];
        float* a = (float*)SmallBatchLinear.DataPointer(lora.LoraA);
        for (int k = 0; k < r; k++) rank[k] = VectorOps.DotAnyLength(a + (long)k * h, x, h);      // A x: [r]
        return new LoraRows(SmallBatchLinear.DataPointer(lora.LoraB), r, (float)lora.Scaling, (IntPtr)rank);
    }

    /// <summary>y[j] = y0[j] + s·B[j]·(A x) for rows j in [start, start+count) (y = y0 there without a LoRA).</summary>
    private static unsafe void Adapted(LoraRows? lora, float* y0, float* y, int start, int count)
    {
        if (lora is not { } l)
        {
            Buffer.MemoryCopy(y0 + start, y + start, (long)count * sizeof(float), (long)count * sizeof(float));
            return;
        }
        VectorOps.RowDots((float*)l.B + (long)start * l.Rank, (float*)l.RankVector, count, l.Rank, y + start);   // B (A x): [count]
        for (int j = start; j < start + count; j++) y[j] = y0[j] + l.Scale * y[j];
    }

    /// <summary>
    /// u[j] := act(g[j])·u[j] (ungated, g null: act(u[j])); mixed[j] += w·u[j], for n values; act = silu, or GELU's
    /// tanh form 0.5g(1 + tanh(√(2/π)(g + 0.044715g³))).
    /// </summary>
    private static unsafe void ActivatedProductAccumulate(float* g, float* u, float* mixed, float weight, int n, bool geluTanh)
    {
        const float SqrtTwoOverPi = 0.7978845608f;
        for (int j = 0; j < n; j++)
        {
            float x = g == null ? u[j] : g[j];
            float activated = geluTanh ? 0.5f * x * (1f + MathF.Tanh(SqrtTwoOverPi * (x + 0.044715f * x * x * x))) : x / (1f + MathF.Exp(-x));
            float a = g == null ? activated : activated * u[j];
            u[j] = a;
            mixed[j] += weight * a;
        }
    }

    private static int Chunks(int rows) => (rows + RowsPerChunk - 1) / RowsPerChunk;

    private static (int Start, int Count) Chunk(int chunk, int rows) =>
        (chunk * RowsPerChunk, Math.Min(RowsPerChunk, rows - chunk * RowsPerChunk));

    private static unsafe float* Ptr(Tensor t) => (float*)SmallBatchLinear.DataPointer(t);
}
