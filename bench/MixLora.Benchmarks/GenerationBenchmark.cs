using System.Diagnostics;
using MixLora.Config;
using MixLora.Generation;
using MixLora.IO;
using TorchSharp;

namespace MixLora.Benchmarks;

/// <summary>
/// Generation speed and memory on the bundled stories260K: tokens/s with and without the KV cache, and the process
/// RSS before and after a long generation (it must not grow per token beyond the cache).
/// </summary>
public static class GenerationBenchmark
{
    public static void Run(string modelDir, int tokens)
    {
        using var model = PretrainedModel.Load(modelDir, new RunOptions());
        var generator = new TokenGenerator(model.Model);
        var options = new SamplingOptions { Seed = 1, MaxNewTokens = tokens, Temperature = 0.8 };
        Console.WriteLine($"Generation on {modelDir}: {tokens} new tokens from BOS, fp32 CPU, {torch.get_num_threads()} threads");

        _ = generator.Generate([1], options with { MaxNewTokens = 32 }, []).Count(); // warm-up
        GC.Collect();
        long rssBefore = Rss();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var rssTrace = new List<long>();
        var clock = Stopwatch.StartNew();
        int produced = 0;
        foreach (var _ in generator.Generate([1], options, []))
        {
            if (++produced % 100 == 0) rssTrace.Add(Rss());
        }
        double cachedSeconds = clock.Elapsed.TotalSeconds;
        GC.Collect();
        long rssAfter = Rss();
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        // A second identical run shows whether memory keeps growing or was only warm-up (allocator pools, JIT).
        _ = generator.Generate([1], options, []).Count();
        GC.Collect();
        long rssSecondRun = Rss();

        clock.Restart();
        int uncached = generator.Generate([1], options with { UseCache = false }, []).Count();
        double uncachedSeconds = clock.Elapsed.TotalSeconds;

        Console.WriteLine($"with KV cache:    {produced} tokens in {cachedSeconds:F2} s = {produced / cachedSeconds:F0} tokens/s");
        Console.WriteLine($"without KV cache: {uncached} tokens in {uncachedSeconds:F2} s = {uncached / uncachedSeconds:F0} tokens/s (cache speed-up x{uncachedSeconds / cachedSeconds * produced / uncached:F1})");
        Console.WriteLine($"RSS before: {rssBefore / 1024.0:F1} MiB, every 100 tokens: {string.Join(", ", rssTrace.Select(r => $"{r / 1024.0:F1}"))} MiB, after: {rssAfter / 1024.0:F1} MiB, after a second run: {rssSecondRun / 1024.0:F1} MiB");
        Console.WriteLine($"live TorchSharp tensors before/after: {liveBefore}/{liveAfter}");
    }

    /// <summary>Resident set size in KiB (Linux /proc), 0 elsewhere.</summary>
    public static long Rss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }
}
