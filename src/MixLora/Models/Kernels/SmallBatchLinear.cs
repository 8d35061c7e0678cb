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
    private static SpinningWorkers? _workers;
    private static bool _disabled;

    /// <summary>Off: every product goes to libtorch (for comparisons in tests and the benchmark).</summary>
    public static bool Enabled { get; set; } = true;

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
        var workers = Workers();
        int chunks = (int)((outF + RowsPerChunk - 1) / RowsPerChunk);
        void Chunk(int c) => Rows(w, xp, yp, bp, rows, (int)inF, (int)outF, c * RowsPerChunk, (int)Math.Min(outF, (long)(c + 1) * RowsPerChunk));
        if (workers is null || !workers.TryRun(chunks, Chunk))
            for (int c = 0; c < chunks; c++) Chunk(c);
        return output;
    }

    /// <summary>Whether a forward of <paramref name="tokens"/> tokens through weights like <paramref name="weight"/> uses the kernel.</summary>
    internal static bool AppliesTo(long tokens, Tensor weight) =>
        Enabled && Supported && !_disabled && tokens is >= 1 and <= MaxRows
        && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32 && !is_grad_enabled();

    private static bool Applies(Tensor x, Tensor weight, Tensor? bias) =>
        Enabled && Supported && !_disabled
        && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32
        && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32 && weight.dim() == 2 && weight.is_contiguous()
        && x.shape[^1] == weight.shape[1] && weight.shape[1] % 8 == 0 && weight.shape[1] <= int.MaxValue && weight.shape[0] <= int.MaxValue
        && x.numel() / weight.shape[1] is >= 1 and <= MaxRows
        && (bias is null || (bias.device_type == DeviceType.CPU && bias.dtype == ScalarType.Float32 && bias.is_contiguous() && bias.numel() == weight.shape[0]))
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    /// <summary>The workers for the kernel's thread count (the caller is one of the threads); null for one thread.</summary>
    private static SpinningWorkers? Workers()
    {
        int threads = FewTokensScope.KernelThreads;
        if (threads == 1) return null;
        var current = _workers;
        if (current is null || current.Threads != threads) _workers = current = new SpinningWorkers(threads - 1);
        return current;
    }

    private static IntPtr DataPointer(Tensor t)
    {
        try
        {
            return THSTensor_data(t.Handle);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _disabled = true; // a TorchSharp build without this export: libtorch does every product
            return IntPtr.Zero;
        }
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>y[m, r] = x[m] · W[r] + b[r] for weight rows [start, end) and every input row m.</summary>
    private static unsafe void Rows(IntPtr w, IntPtr x, IntPtr y, IntPtr b, int rows, int inF, int outF, int start, int end)
    {
        float* W = (float*)w, X = (float*)x, Y = (float*)y, B = (float*)b;
        for (int r = start; r < end; r++)
        {
            float* row = W + (long)r * inF;
            float bias = B == null ? 0f : B[r];
            for (int m = 0; m < rows; m++) Y[(long)m * outF + r] = Dot(row, X + (long)m * inF, inF) + bias;
        }
    }

    /// <summary>a · b over n floats (n a multiple of 8): four independent FMA chains hide the FMA latency.</summary>
    private static unsafe float Dot(float* a, float* b, int n)
    {
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), s0);
            s1 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 8), Avx.LoadVector256(b + i + 8), s1);
            s2 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 16), Avx.LoadVector256(b + i + 16), s2);
            s3 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 24), Avx.LoadVector256(b + i + 24), s3);
        }
        for (; i < n; i += 8) s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), s0);
        return Vector256.Sum(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)));
    }
}
