using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models.Kernels;

/// <summary>
/// y = x Wᵀ + b for a few rows of x (token-by-token decoding: one row per sequence) on the CPU in float32. Such a
/// product reads every weight once and does two flops per weight, so its speed is the memory bandwidth the threads
/// reach. libtorch's BLAS streams the weights at about 16 GB/s on a 2-core AMD machine; this kernel, each thread
/// dotting whole rows with AVX2 FMA, reaches about 25 GB/s. Other shapes, devices, dtypes and any product that
/// needs gradients go to libtorch.
/// </summary>
public static class SmallBatchLinear
{
    /// <summary>Most rows of x the kernel takes; a weight row is read from memory once and reused from L1 for each.</summary>
    public const int MaxRows = 8;

    /// <summary>Weight rows per work chunk: small enough to balance threads, large enough to amortise the hand-off.</summary>
    private const int RowsPerChunk = 32;

    private static readonly bool Supported = Avx2.IsSupported && Fma.IsSupported;
    private static bool _disabled;

    /// <summary>Off: every product (and decode attention) goes to libtorch (for comparisons in tests and the benchmark).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>x [.., in] · weight [out, in]ᵀ (+ bias [out]) -> [.., out]: the kernel when it applies, else libtorch.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) =>
        TryForward(x, weight, bias) ?? nn.functional.linear(x, weight, bias);

    /// <summary>x [.., in] · weight [out, in]ᵀ (+ bias [out]) -> [.., out] when the kernel applies, else null.</summary>
    public static Tensor? TryForward(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!Applies(x, weight, bias)) return null;
        long inF = weight.shape[1], outF = weight.shape[0];
        int rows = (int)(x.numel() / inF);
        using var input = x.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = outF;
        var output = empty(shape, ScalarType.Float32, x.device);
        IntPtr w = DataPointer(weight), xp = DataPointer(input), yp = DataPointer(output), bp = bias is null ? IntPtr.Zero : DataPointer(bias);
        if (w == IntPtr.Zero)
        {
            output.Dispose();
            return null;
        }
        int chunks = (int)((outF + RowsPerChunk - 1) / RowsPerChunk);
        DecodeWorkers.Run(chunks, c => Rows(w, xp, yp, bp, rows, (int)inF, (int)outF, c * RowsPerChunk, (int)Math.Min(outF, (long)(c + 1) * RowsPerChunk)));
        return output;
    }

    /// <summary>Whether a forward of <paramref name="tokens"/> tokens through weights like <paramref name="weight"/> uses the kernel.</summary>
    internal static bool AppliesTo(long tokens, Tensor weight) =>
        Usable && tokens is >= 1 and <= MaxRows
        && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32 && !is_grad_enabled();

    /// <summary>The kernels are switched on and this CPU and TorchSharp build can run them.</summary>
    internal static bool Usable => Enabled && Supported && !_disabled;

    private static bool Applies(Tensor x, Tensor weight, Tensor? bias) =>
        Usable
        && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32
        && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32 && weight.dim() == 2 && weight.is_contiguous()
        && x.shape[^1] == weight.shape[1] && weight.shape[1] % 8 == 0 && weight.shape[1] <= int.MaxValue && weight.shape[0] <= int.MaxValue
        && x.numel() / weight.shape[1] is >= 1 and <= MaxRows
        && (bias is null || (bias.device_type == DeviceType.CPU && bias.dtype == ScalarType.Float32 && bias.is_contiguous() && bias.numel() == weight.shape[0]))
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    /// <summary>The tensor's first element (storage offset included), or zero when this TorchSharp build lacks the export.</summary>
    internal static IntPtr DataPointer(Tensor t)
    {
        try
        {
            return THSTensor_data(t.Handle);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _disabled = true; // libtorch does every product from now on
            return IntPtr.Zero;
        }
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>y[m, r] = x[m] · W[r] + b[r] for weight rows [start, end) and every input row m.</summary>
    private static unsafe void Rows(IntPtr w, IntPtr x, IntPtr y, IntPtr b, int rows, int inF, int outF, int start, int end)
    {
        float* W = (float*)w, X = (float*)x, Y = (float*)y, B = (float*)b;
        int r = start;
        // Several input rows: three (then two) weight rows against four input rows at a time, so each loaded weight
        // vector feeds four FMAs; the leftover input rows and a last weight row take plain dot products.
        int grouped = rows / 4 * 4;
        if (grouped > 0)
        {
            for (; r + 3 <= end; r += 3)
                for (int m = 0; m < grouped; m += 4)
                    ThreeByFour(W + (long)r * inF, X + (long)m * inF, Y + (long)m * outF + r, inF, outF);
            for (; r + 2 <= end; r += 2)
                for (int m = 0; m < grouped; m += 4)
                    TwoByFour(W + (long)r * inF, X + (long)m * inF, Y + (long)m * outF + r, inF, outF);
        }
        for (int rr = start; rr < end; rr++)
        {
            float* row = W + (long)rr * inF;
            for (int m = rr < r ? grouped : 0; m < rows; m++) Y[(long)m * outF + rr] = VectorOps.Dot(row, X + (long)m * inF, inF);
        }
        if (B == null) return;
        for (int m = 0; m < rows; m++)
            for (int rr = start; rr < end; rr++) Y[(long)m * outF + rr] += B[rr];
    }

    /// <summary>Three weight rows against four input rows: 12 accumulators, each weight load feeds four FMAs, each input load three.</summary>
    private static unsafe void ThreeByFour(float* w0, float* x0, float* y, int n, int outF)
    {
        float* w1 = w0 + n, w2 = w1 + n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n;
        Vector256<float> a00 = Vector256<float>.Zero, a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
            a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int i = 0; i < n; i += 8)
        {
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var v2 = Avx.LoadVector256(w2 + i);
            var u = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, u, a00); a01 = Fma.MultiplyAdd(v1, u, a01); a02 = Fma.MultiplyAdd(v2, u, a02);
            u = Avx.LoadVector256(x1 + i);
            a10 = Fma.MultiplyAdd(v0, u, a10); a11 = Fma.MultiplyAdd(v1, u, a11); a12 = Fma.MultiplyAdd(v2, u, a12);
            u = Avx.LoadVector256(x2 + i);
            a20 = Fma.MultiplyAdd(v0, u, a20); a21 = Fma.MultiplyAdd(v1, u, a21); a22 = Fma.MultiplyAdd(v2, u, a22);
            u = Avx.LoadVector256(x3 + i);
            a30 = Fma.MultiplyAdd(v0, u, a30); a31 = Fma.MultiplyAdd(v1, u, a31); a32 = Fma.MultiplyAdd(v2, u, a32);
        }
        y[0] = Vector256.Sum(a00); y[1] = Vector256.Sum(a01); y[2] = Vector256.Sum(a02);
        y[outF] = Vector256.Sum(a10); y[outF + 1] = Vector256.Sum(a11); y[outF + 2] = Vector256.Sum(a12);
        y[2 * outF] = Vector256.Sum(a20); y[2 * outF + 1] = Vector256.Sum(a21); y[2 * outF + 2] = Vector256.Sum(a22);
        y[3 * outF] = Vector256.Sum(a30); y[3 * outF + 1] = Vector256.Sum(a31); y[3 * outF + 2] = Vector256.Sum(a32);
    }

    /// <summary>
    /// Weight rows w0 = W[0], w1 = W[1] against input rows x0 … x3 (stride n): y[m·outF + j] = x_m · w_j.
    /// </summary>
    private static unsafe void TwoByFour(float* w0, float* x0, float* y, int n, int outF)
    {
        float* w1 = w0 + n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n;
        Vector256<float> a00 = Vector256<float>.Zero, a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int i = 0; i < n; i += 8)
        {
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var u = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, u, a00); a01 = Fma.MultiplyAdd(v1, u, a01);
            u = Avx.LoadVector256(x1 + i);
            a10 = Fma.MultiplyAdd(v0, u, a10); a11 = Fma.MultiplyAdd(v1, u, a11);
            u = Avx.LoadVector256(x2 + i);
            a20 = Fma.MultiplyAdd(v0, u, a20); a21 = Fma.MultiplyAdd(v1, u, a21);
            u = Avx.LoadVector256(x3 + i);
            a30 = Fma.MultiplyAdd(v0, u, a30); a31 = Fma.MultiplyAdd(v1, u, a31);
        }
        y[0] = Vector256.Sum(a00); y[1] = Vector256.Sum(a01);
        y[outF] = Vector256.Sum(a10); y[outF + 1] = Vector256.Sum(a11);
        y[2 * outF] = Vector256.Sum(a20); y[2 * outF + 1] = Vector256.Sum(a21);
        y[3 * outF] = Vector256.Sum(a30); y[3 * outF + 1] = Vector256.Sum(a31);
    }
}
