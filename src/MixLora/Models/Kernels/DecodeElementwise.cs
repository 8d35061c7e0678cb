using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models.Kernels;

/// <summary>
/// RMSNorm and rotary embedding of a decode step's few rows in one pass each. In libtorch they are eight and seven
/// small ops whose fixed cost (a few microseconds each, 17 norms and 16 rotations per step of an 8-layer model) is
/// a visible share of a batch-1 step once the products run at memory speed.
/// </summary>
internal static class DecodeElementwise
{
    /// <summary>y = w ⊙ x / sqrt(mean(x²) + eps) for x [.., H] with at most <see cref="SmallBatchLinear.MaxRows"/> rows, else null.</summary>
    public static unsafe Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps)
    {
        long h = weight.numel();
        if (!Usable(x) || weight.dtype != ScalarType.Float32 || !weight.is_contiguous() || x.shape[^1] != h
            || x.numel() / h > SmallBatchLinear.MaxRows) return null;
        using var input = x.contiguous();
        var output = empty_like(input);
        float* X = (float*)SmallBatchLinear.DataPointer(input), Y = (float*)SmallBatchLinear.DataPointer(output), W = (float*)SmallBatchLinear.DataPointer(weight);
        if (X == null || Y == null || W == null)
        {
            output.Dispose();
            return null;
        }
        for (long row = 0, rows = x.numel() / h; row < rows; row++)
        {
            float* xr = X + row * h, yr = Y + row * h;
            float sum = 0;
            for (long i = 0; i < h; i++) sum += xr[i] * xr[i];
            float scale = 1f / MathF.Sqrt(sum / h + (float)eps);
            for (long i = 0; i < h; i++) yr[i] = W[i] * (xr[i] * scale);
        }
        return output;
    }

    /// <summary>
    /// x·cos + rotate_half(x)·sin for one position per row: x [B, heads, 1, hd], cos/sin [1 or B, 1, 1, rd] with
    /// rd ≤ hd (the first rd dimensions rotate, the rest pass through: partial rotary); else null.
    /// </summary>
    public static unsafe Tensor? TryRotary(Tensor x, Tensor cos, Tensor sin)
    {
        if (!Usable(x) || x.dim() != 4 || x.shape[2] != 1 || cos.dtype != ScalarType.Float32 || sin.dtype != ScalarType.Float32
            || cos.dim() != 4 || cos.shape[2] != 1 || (cos.shape[0] != 1 && cos.shape[0] != x.shape[0]) || !cos.is_contiguous() || !sin.is_contiguous()
            || cos.shape[3] > x.shape[3] || cos.shape[3] % 2 != 0 || !sin.shape.SequenceEqual(cos.shape)) return null;
        long b = x.shape[0], heads = x.shape[1], hd = x.shape[3], rd = cos.shape[3], half = rd / 2;
        using var input = x.contiguous();
        var output = empty_like(input);
        float* X = (float*)SmallBatchLinear.DataPointer(input), Y = (float*)SmallBatchLinear.DataPointer(output);
        float* C = (float*)SmallBatchLinear.DataPointer(cos), S = (float*)SmallBatchLinear.DataPointer(sin);
        if (X == null || Y == null || C == null || S == null)
        {
            output.Dispose();
            return null;
        }
        for (long row = 0; row < b; row++)
        {
            float* c = C + (cos.shape[0] == 1 ? 0 : row * rd), s = S + (cos.shape[0] == 1 ? 0 : row * rd);
            for (long head = 0; head < heads; head++)
            {
                float* xh = X + (row * heads + head) * hd, yh = Y + (row * heads + head) * hd;
                for (long i = 0; i < half; i++)
                {
                    yh[i] = xh[i] * c[i] + -xh[i + half] * s[i];
                    yh[i + half] = xh[i + half] * c[i + half] + xh[i] * s[i + half];
                }
                for (long i = rd; i < hd; i++) yh[i] = xh[i];
            }
        }
        return output;
    }

    private static bool Usable(Tensor x) =>
        SmallBatchLinear.Usable && !is_grad_enabled() && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;
}
