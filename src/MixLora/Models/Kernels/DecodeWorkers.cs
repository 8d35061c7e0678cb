namespace MixLora.Models.Kernels;

/// <summary>The process's kernel threads: work split into chunks runs on the spinning workers and the caller.</summary>
internal static class DecodeWorkers
{
    private static SpinningWorkers? _workers;

    /// <summary>Runs <paramref name="job"/> for chunks 0 … <paramref name="chunks"/>−1, in parallel when the kernel has several threads.</summary>
    public static void Run(int chunks, Action<int> job)
    {
        var workers = chunks > 1 ? Workers() : null;
        if (workers is not null && workers.TryRun(chunks, job)) return;
        for (int c = 0; c < chunks; c++) job(c);
    }

    /// <summary>Workers for the kernel's thread count (the caller is one of the threads); null for one thread.</summary>
    private static SpinningWorkers? Workers()
    {
        int threads = FewTokensScope.KernelThreads;
        if (threads == 1) return null;
        var current = _workers;
        if (current is null || current.Threads != threads) _workers = current = new SpinningWorkers(threads - 1);
        return current;
    }
}
