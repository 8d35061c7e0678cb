using MixLora.Models.Kernels;

namespace MixLora.Tests.Models;

/// <summary>The decode kernels' worker threads run every chunk exactly once, from the first job on, and never hang.</summary>
public class SpinningWorkersTests
{
    [Fact]
    public async Task EveryChunkRunsOnceEvenRightAfterStartAndAfterSleeping()
    {
        var run = Task.Run(() =>
        {
            for (int pool = 0; pool < 20; pool++)
            {
                // A job published before the worker thread first runs must not be missed.
                var workers = new SpinningWorkers(2);
                for (int job = 0; job < 50; job++)
                {
                    var hits = new int[37];
                    Assert.True(workers.TryRun(hits.Length, c => Interlocked.Increment(ref hits[c])));
                    Assert.All(hits, h => Assert.Equal(1, h));
                    if (job == 25) Thread.Sleep(5);   // past the spinning window: the workers block, then must wake
                }
            }
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60));   // TimeoutException: the workers hung
    }

    [Fact]
    public async Task ASecondCallerIsToldToComputeItselfWhileTheWorkersAreBusy()
    {
        var workers = new SpinningWorkers(1);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var first = Task.Run(() => workers.TryRun(1, _ => { inside.Set(); release.Wait(); }));
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)));
        Assert.False(workers.TryRun(4, _ => { }));
        release.Set();
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
