using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models.Kernels;

/// <summary>
/// Attention of one new token per row against the KV cache (a decode step) on the kernel threads: for each
/// (row, KV head) the query heads that share it score every cached key, softmax, and mix the values. libtorch runs
/// this step on one thread inside <see cref="FewTokensScope"/>; at batch 8 and 640 cached positions that alone took
/// about a sixth of the step.
/// </summary>
internal static class DecodeAttention
{
    /// <summary>
    /// q [B, nh, 1, hd]; k, v [B, nkv, S, hd] (views of the cache: the last two dims dense); mask null or bool
    /// [B or 1, 1, 1, S] (true = may attend) -> [B, nh, 1, hd], or null when the kernel does not apply. Scores are
    /// scale·q·k (default head_dim^−½), soft-capped to cap·tanh(score/cap) when <paramref name="softcap"/> is given.
    /// </summary>
    public static Tensor? TryForward(Tensor q, Tensor k, Tensor v, Tensor? mask, double? scale = null, double? softcap = null)
    {
        // Each TorchSharp shape read is a native call that allocates: read each tensor's shape once.
        if (!SmallBatchLinear.Usable || is_grad_enabled()) return null;
        long[] qs = q.shape, ks = k.shape, vs = v.shape;
        long[]? ms = mask?.shape;
        if (!Applies(q, k, v, mask, qs, ks, vs, ms)) return null;
        int b = (int)qs[0], heads = (int)qs[1], hd = (int)qs[3];
        int kvHeads = (int)ks[1], s = (int)ks[2];
        using var query = q.contiguous();
        using var maskBytes = mask?.contiguous();
        var output = empty([b, heads, 1, hd], ScalarType.Float32, q.device);
        IntPtr qp = SmallBatchLinear.DataPointer(query), kp = SmallBatchLinear.DataPointer(k), vp = SmallBatchLinear.DataPointer(v);
        IntPtr op = SmallBatchLinear.DataPointer(output), mp = maskBytes is null ? IntPtr.Zero : SmallBatchLinear.DataPointer(maskBytes);
        if (qp == IntPtr.Zero || kp == IntPtr.Zero || vp == IntPtr.Zero || op == IntPtr.Zero)
        {
            output.Dispose();
            return null;
        }
        var layout = new Layout(heads / kvHeads, kvHeads, s, hd, k.stride(0), k.stride(1), v.stride(0), v.stride(1),
            ms is null ? -1 : ms[0] == 1 ? 0 : s, (float)(scale ?? 1.0 / Math.Sqrt(hd)), (float)(softcap ?? 0));
        DecodeWorkers.Run(b * kvHeads, unit => Unit(qp, kp, vp, mp, op, unit / kvHeads, unit % kvHeads, layout));
        return output;
    }

    private static bool Applies(Tensor q, Tensor k, Tensor v, Tensor? mask, long[] qs, long[] ks, long[] vs, long[]? ms) =>
        q.device_type == DeviceType.CPU && q.dtype == ScalarType.Float32 && k.dtype == ScalarType.Float32 && v.dtype == ScalarType.Float32
        && qs.Length == 4 && ks.Length == 4 && vs.Length == 4 && qs[2] == 1
        && ks[0] == qs[0] && vs[0] == qs[0] && ks[1] == vs[1] && ks[2] == vs[2]
        && qs[1] % ks[1] == 0 && qs[3] == ks[3] && vs[3] == qs[3] && qs[3] % 8 == 0
        && k.stride(3) == 1 && v.stride(3) == 1 && k.stride(2) == ks[3] && v.stride(2) == vs[3]
        && (ms is null || (mask!.dtype == ScalarType.Bool && ms.Length == 4 && (ms[0] == 1 || ms[0] == qs[0])
                           && ms[1] == 1 && ms[2] == 1 && ms[3] == ks[2]));

    /// <param name="MaskRowStride">-1: no mask; 0: one mask row for every batch row; S: one per row.</param>
    /// <param name="Softcap">0: scores uncapped.</param>
    private readonly record struct Layout(int Group, int KvHeads, int S, int HeadDim, long KRow, long KHead, long VRow, long VHead,
        long MaskRowStride, float Scale, float Softcap);

    /// <summary>The query heads of KV head <paramref name="h"/> in batch row <paramref name="row"/>.</summary>
    private static unsafe void Unit(IntPtr qp, IntPtr kp, IntPtr vp, IntPtr mp, IntPtr op, int row, int h, Layout l)
    {
        float* keys = (float*)kp + row * l.KRow + h * l.KHead;
        float* values = (float*)vp + row * l.VRow + h * l.VHead;
        byte* mask = l.MaskRowStride < 0 ? null : (byte*)mp + row * l.MaskRowStride;
        int heads = l.Group * l.KvHeads;
        var scores = ArrayPool<float>.Shared.Rent(l.S);
        try
        {
            fixed (float* p = scores)
                for (int g = 0; g < l.Group; g++)
                {
                    int head = h * l.Group + g;
                    float* query = (float*)qp + ((long)row * heads + head) * l.HeadDim;
                    VectorOps.RowDots(keys, query, l.S, l.HeadDim, p);                    // [S, hd] · [hd] -> [S]
                    Scale(p, mask, l.S, l.Scale, l.Softcap);
                    VectorOps.SoftmaxInPlace(p, l.S);
                    Mix(p, values, (float*)op + ((long)row * heads + head) * l.HeadDim, l.S, l.HeadDim);
                }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    /// <summary>p[j] ·= scale, then cap·tanh(p[j]/cap) when capped; −∞ where the mask forbids key j.</summary>
    private static unsafe void Scale(float* p, byte* mask, int s, float scale, float softcap)
    {
        int j = 0;
        var factor = Vector256.Create(scale);
        for (; j + 8 <= s; j += 8) Avx.Store(p + j, Avx.Multiply(Avx.LoadVector256(p + j), factor));
        for (; j < s; j++) p[j] *= scale;
        if (softcap > 0)
            for (j = 0; j < s; j++) p[j] = softcap * MathF.Tanh(p[j] / softcap);
        if (mask == null) return;
        for (j = 0; j < s; j++)
            if (mask[j] == 0) p[j] = float.NegativeInfinity;
    }

    /// <summary>
    /// result[d] = Σⱼ p[j] · values[j, d] (head_dim a multiple of 8): sixty-four columns at a time in eight
    /// registers, so each weight p[j] is broadcast once per block and each value row is read once, in order.
    /// </summary>
    private static unsafe void Mix(float* p, float* values, float* result, int s, int headDim)
    {
        int d = 0;
        for (; d + 64 <= headDim; d += 64)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            float* column = values + d;
            for (int j = 0; j < s; j++, column += headDim)
            {
                var w = Vector256.Create(p[j]);
                a0 = Fma.MultiplyAdd(w, Avx.LoadVector256(column), a0);
                a1 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 8), a1);
                a2 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 16), a2);
                a3 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 24), a3);
                a4 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 32), a4);
                a5 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 40), a5);
                a6 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 48), a6);
                a7 = Fma.MultiplyAdd(w, Avx.LoadVector256(column + 56), a7);
            }
            Avx.Store(result + d, a0); Avx.Store(result + d + 8, a1); Avx.Store(result + d + 16, a2); Avx.Store(result + d + 24, a3);
            Avx.Store(result + d + 32, a4); Avx.Store(result + d + 40, a5); Avx.Store(result + d + 48, a6); Avx.Store(result + d + 56, a7);
        }
        for (; d < headDim; d += 8)
        {
            var acc = Vector256<float>.Zero;
            for (int j = 0; j < s; j++) acc = Fma.MultiplyAdd(Vector256.Create(p[j]), Avx.LoadVector256(values + (long)j * headDim + d), acc);
            Avx.Store(result + d, acc);
        }
    }
}
