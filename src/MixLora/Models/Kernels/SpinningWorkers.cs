using System.Diagnostics;

namespace MixLora.Models.Kernels;

/// <summary>
/// A few worker threads that share a job with the calling thread, for the decode kernels: a token's forward runs
/// about sixty matrix-vector products a few hundred microseconds apart, too short for the thread pool's wake-up
/// latency. Workers spin between jobs for a short while and then block, so an idle process costs no CPU.
/// </summary>
internal sealed class SpinningWorkers
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000;   // 0.5 ms of spinning before blocking
    private readonly Worker[] _workers;
    private readonly Lock _gate = new();
    private Action<int>? _job;
    private int _chunks, _nextChunk, _pending, _generation;

    public SpinningWorkers(int workers)
    {
        _workers = Enumerable.Range(0, workers).Select(i => new Worker(this, i)).ToArray();
    }

    /// <summary>Threads that run a job: the workers and the caller.</summary>
    public int Threads => _workers.Length + 1;

    /// <summary>
    /// Runs <paramref name="job"/> for chunk indices 0 … <paramref name="chunks"/>−1 on the workers and the calling
    /// thread; returns when all are done. Returns false without running anything when another thread is using the
    /// workers (the caller then computes another way).
    /// </summary>
    public bool TryRun(int chunks, Action<int> job)
    {
        if (!_gate.TryEnter()) return false;
        try
        {
            _job = job;
            _chunks = chunks;
            _nextChunk = 0;
            Volatile.Write(ref _pending, _workers.Length);
            Interlocked.Increment(ref _generation);                   // publishes the job (full fence)
            foreach (var worker in _workers) worker.WakeIfSleeping();
            Drain(job);
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            _job = null;
            return true;
        }
        finally
        {
            _gate.Exit();
        }
    }

    private void Drain(Action<int> job)
    {
        int chunk;
        while ((chunk = Interlocked.Increment(ref _nextChunk) - 1) < _chunks) job(chunk);
    }

    private sealed class Worker
    {
        private readonly SpinningWorkers _owner;
        private readonly SemaphoreSlim _wake = new(0);
        private int _sleeping;

        public Worker(SpinningWorkers owner, int index)
        {
            _owner = owner;
            new Thread(Loop) { IsBackground = true, Name = $"mixlora-decode-{index}" }.Start();
        }

        public void WakeIfSleeping()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        }

        private void Loop()
        {
            // Generation 0 is the pool's state at construction; reading the field here instead could skip a job
            // published before this thread got to run, and the publisher would wait for it forever.
            int seen = 0;
            while (true)
            {
                if (!WaitForJob(seen)) continue;
                seen = Volatile.Read(ref _owner._generation);
                _owner.Drain(_owner._job!);
                Interlocked.Decrement(ref _owner._pending);
            }
        }

        /// <summary>Spins, then blocks, until the generation moves past <paramref name="seen"/>; false when woken without a job.</summary>
        private bool WaitForJob(int seen)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            var spin = new SpinWait();
            while (Stopwatch.GetTimestamp() < until)
            {
                if (Volatile.Read(ref _owner._generation) != seen) return true;
                spin.SpinOnce(sleep1Threshold: -1);
            }
            // Announce sleep first, then look again: a job published in between is seen here or wakes the semaphore.
            Interlocked.Exchange(ref _sleeping, 1);
            if (Volatile.Read(ref _owner._generation) != seen)
            {
                // The publisher may already have taken the flag and released the semaphore: consume that release.
                if (Interlocked.Exchange(ref _sleeping, 0) == 0) _wake.Wait();
                return true;
            }
            _wake.Wait();
            return Volatile.Read(ref _owner._generation) != seen;
        }
    }
}
