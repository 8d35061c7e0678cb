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
    /// [B or 1, 1, 1, S] (true = may attend) -> [B, nh, 1, hd], or null when the kernel does not apply.
    /// </summary>
    public static Tensor? TryForward(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        if (!Applies(q, k, v, mask)) return null;
        int b = (int)q.shape[0], heads = (int)q.shape[1], hd = (int)q.shape[3];
        int kvHeads = (int)k.shape[1], s = (int)k.shape[2];
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
            maskBytes is null ? -1 : maskBytes.shape[0] == 1 ? 0 : s, (float)(1.0 / Math.Sqrt(hd)));
        DecodeWorkers.Run(b * kvHeads, unit => Unit(qp, kp, vp, mp, op, unit / kvHeads, unit % kvHeads, layout));
        return output;
    }

    private static bool Applies(Tensor q, Tensor k, Tensor v, Tensor? mask) =>
        SmallBatchLinear.Usable && !is_grad_enabled()
        && q.device_type == DeviceType.CPU && q.dtype == ScalarType.Float32 && k.dtype == ScalarType.Float32 && v.dtype == ScalarType.Float32
        && q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.shape[2] == 1
        && k.shape[0] == q.shape[0] && v.shape[0] == q.shape[0] && k.shape[1] == v.shape[1] && k.shape[2] == v.shape[2]
        && q.shape[1] % k.shape[1] == 0 && q.shape[3] == k.shape[3] && v.shape[3] == q.shape[3] && q.shape[3] % 8 == 0
        && k.stride(3) == 1 && v.stride(3) == 1 && k.stride(2) == k.shape[3] && v.stride(2) == v.shape[3]
        && (mask is null || (mask.dtype == ScalarType.Bool && mask.dim() == 4 && (mask.shape[0] == 1 || mask.shape[0] == q.shape[0])
                             && mask.shape[1] == 1 && mask.shape[2] == 1 && mask.shape[3] == k.shape[2]));

    /// <param name="MaskRowStride">-1: no mask; 0: one mask row for every batch row; S: one per row.</param>
    private readonly record struct Layout(int Group, int KvHeads, int S, int HeadDim, long KRow, long KHead, long VRow, long VHead,
        long MaskRowStride, float Scale);

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
                    float* result = (float*)op + ((long)row * heads + head) * l.HeadDim;
                    float max = float.NegativeInfinity;
                    for (int j = 0; j < l.S; j++)
                    {
                        float score = mask != null && mask[j] == 0 ? float.NegativeInfinity : SmallBatchLinear.Dot(query, keys + (long)j * l.HeadDim, l.HeadDim) * l.Scale;
                        p[j] = score;
                        if (score > max) max = score;
                    }
                    float sum = 0;
                    for (int j = 0; j < l.S; j++)
                    {
                        float e = p[j] == float.NegativeInfinity ? 0 : MathF.Exp(p[j] - max);
                        p[j] = e;
                        sum += e;
                    }
                    Mix(p, values, result, l.S, l.HeadDim, 1 / sum);
                }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    /// <summary>result[d] = inverseSum · Σⱼ p[j] · values[j, d] (d over head_dim, a multiple of 8).</summary>
    private static unsafe void Mix(float* p, float* values, float* result, int s, int headDim, float inverseSum)
    {
        for (int d = 0; d < headDim; d += 8)
        {
            var acc = Vector256<float>.Zero;
            for (int j = 0; j < s; j++)
                if (p[j] != 0) acc = Fma.MultiplyAdd(Vector256.Create(p[j]), Avx.LoadVector256(values + (long)j * headDim + d), acc);
            Avx.Store(result + d, Avx.Multiply(acc, Vector256.Create(inverseSum)));
        }
    }
}
