using static TorchSharp.torch;

namespace MixLora.Models.Kernels;

/// <summary>
/// A forward of a few tokens (a decode step) with libtorch on one thread while <see cref="SmallBatchLinear"/> uses
/// the threads libtorch had. Measured on 2 cores: the kernel's threads and libtorch's OpenMP threads, which spin
/// after each parallel op, fight for the cores (15 tokens/s); libtorch alone makes 25–29; libtorch on one thread for
/// the step's small ops and the kernel on two makes 43–44. OpenMP's thread count is per calling thread, so other
/// threads' work is unaffected. Nested scopes are no-ops.
/// </summary>
internal readonly struct FewTokensScope : IDisposable
{
    [ThreadStatic] private static int t_kernelThreads; // 0: not inside a scope on this thread

    private readonly int _restore;

    private FewTokensScope(int restore) => _restore = restore;

    /// <summary>Threads the kernel runs on: inside a scope, the count libtorch had on entry; else libtorch's count.</summary>
    public static int KernelThreads => t_kernelThreads > 0 ? t_kernelThreads : Math.Max(1, get_num_threads());

    /// <summary>Enters the scope when a forward of <paramref name="tokens"/> tokens through <paramref name="weight"/>-like weights uses the kernel.</summary>
    public static FewTokensScope Enter(long tokens, Tensor weight)
    {
        if (t_kernelThreads > 0 || !SmallBatchLinear.AppliesTo(tokens, weight)) return default;
        int threads = get_num_threads();
        if (threads <= 1) return default;
        t_kernelThreads = threads;
        set_num_threads(1);
        return new FewTokensScope(threads);
    }

    public void Dispose()
    {
        if (_restore == 0) return;
        set_num_threads(_restore);
        t_kernelThreads = 0;
    }
}
