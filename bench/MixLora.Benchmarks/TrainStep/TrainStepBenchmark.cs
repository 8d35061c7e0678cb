using MixLora.Benchmarks.Harness;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// The train-step benchmark. Parent mode runs the sweep (each measurement in a fresh worker process) and writes the
/// JSON, markdown table and chart; `--worker VARIANT|gemm` measures in this process and prints one JSON line.
/// </summary>
public static class TrainStepBenchmark
{
    public static int Run(string[] args)
    {
        try
        {
            var options = TrainStepOptions.Parse(args);
            if (options.Help)
            {
                Console.WriteLine(TrainStepOptions.Usage);
                return 0;
            }
            return options.Worker is { } worker ? RunWorker(options, worker) : RunParent(options);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return UsageException.ExitCode;
        }
        catch (WorkerFailedException e)
        {
            Console.Error.WriteLine(e.Message);
            return WorkerFailedException.ExitCode;
        }
    }

    /// <summary>Progress goes to stderr (the parent streams it); the result is the only stdout line.</summary>
    private static int RunWorker(TrainStepOptions o, string worker)
    {
        if (worker == TrainStepOptions.GemmWorker)
        {
            set_num_threads(o.Threads);
            var gemm = new GemmMeasurement { Gflops = Gemm.Gflops(), Threads = get_num_threads() };
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(gemm, JsonFiles.OneLine));
            return 0;
        }
        var m = o.MemoryOnly
            ? TrainStepWorker.MeasureLiveMemory(o.Shape, worker, o.Threads)
            : TrainStepWorker.Run(o.Shape, worker, o.Steps, o.Warmup, o.Threads, line => Console.Error.WriteLine(line));
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(m, JsonFiles.OneLine));
        return 0;
    }

    private static int RunParent(TrainStepOptions o)
    {
        string output = Path.GetFullPath(o.Output ?? Path.Combine(RunEnvironment.RepoRoot(), "bench", "results", "latest.json"));
        string markdown = Path.ChangeExtension(output, ".md");
        string chart = Path.GetFullPath(o.Chart ?? Path.ChangeExtension(output, ".png"));
        // The peer file is checked before anything is measured: a typo must not cost a whole sweep.
        var peer = o.PeerJson is null ? null : PeerResults.Load(o.PeerJson);
        var warnings = peer?.Mismatches(o.Shape, o.Threads) ?? [];
        foreach (var warning in warnings)
            Console.Error.WriteLine($"WARNING: {warning}: the ours/peer ratios will NOT be like for like.");

        var run = TrainStepSweep.Run(o, peer, warnings);
        JsonFiles.WriteAtomic(output, TrainStepReport.Build(run));
        string summary = TrainStepMarkdown.Render(run);
        MixLora.IO.AtomicFile.WriteAllText(markdown, summary);
        TrainStepChart.Save(chart, run);
        Console.WriteLine();
        Console.Write(summary);
        foreach (var warning in warnings) Console.Error.WriteLine($"WARNING: {warning}: the ours/peer ratios are NOT like for like.");
        Console.WriteLine();
        Console.WriteLine($"wrote {output}, {markdown}, {chart}");
        return 0;
    }
}
