using System.Text.Json;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The train-step benchmark: `--worker VARIANT` measures one variant in this process (JSON on the last stdout line).</summary>
public static class TrainStepBenchmark
{
    public static int Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
        var shape = args.Contains("--quick") ? TrainStepShape.Quick : TrainStepShape.Full;
        int threads = int.Parse(Option("--threads") ?? "2");
        int steps = int.Parse(Option("--steps") ?? "5");
        int warmup = int.Parse(Option("--warmup") ?? "2");
        if (Option("--worker") is { } variant)
        {
            var m = TrainStepWorker.Run(shape, variant, steps, warmup, threads, line => Console.Error.WriteLine(line));
            Console.WriteLine(JsonSerializer.Serialize(m));
            return 0;
        }
        Console.Error.WriteLine("train-step: orchestration not written yet; use --worker VARIANT");
        return 2;
    }
}
