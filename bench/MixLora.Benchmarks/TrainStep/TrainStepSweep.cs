using System.Globalization;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// The parent side of train-step: GEMM peak, then R rounds over the variants (interleaved as the peer does, so a
/// drift in machine speed hits every variant alike), then the GEMM peak again; each measurement in a fresh worker.
/// </summary>
public static class TrainStepSweep
{
    public static TrainStepRun Run(TrainStepOptions o, PeerResults? peer, IReadOnlyList<string> warnings)
    {
        var date = DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var loadStart = RunEnvironment.LoadAverage();
        var s = o.Shape;
        Console.WriteLine(Invariant($"train-step: shape {s.Name} (hidden {s.Hidden}, {s.Layers} layers, seq {s.Seq}, batch {s.Batch}), ")
            + Invariant($"{o.Threads} threads, {o.Rounds} round(s) of {o.Warmup} warm-up + {o.Steps} steps per variant; ")
            + $"load average {RunEnvironment.FormatLoad(loadStart)}");
        double gemmStart = MeasureGemm(o, "start");
        var raw = o.Variants.ToDictionary(v => v, _ => new List<TrainStepMeasurement>());
        for (int round = 1; round <= o.Rounds; round++)
        {
            foreach (var variant in o.Variants)
            {
                Console.WriteLine($"  round {round}/{o.Rounds} {variant} ...");
                var m = WorkerProcess.Run<TrainStepMeasurement>($"'{variant}' (round {round})", WorkerArguments(o, variant), o.Threads);
                if (m.Variant != variant) throw new WorkerFailedException($"train-step: worker for '{variant}' reported variant '{m.Variant}'");
                // Live activation memory in a second fresh worker whose allocator returns freed memory (slower, so untimed).
                var live = WorkerProcess.Run<TrainStepMeasurement>($"'{variant}' live memory (round {round})",
                    [.. WorkerArguments(o, variant), "--memory"], o.Threads, TrainStepWorker.LiveMemoryEnvironment);
                m = m with { ActivationMiB = live.ActivationMiB };
                raw[variant].Add(m);
                Console.WriteLine(Invariant($"    {Statistics.Median(m.StepTimesS) * 1e3:F1} ms/step, peak {m.RssPeakMiB:F0} MiB ") + Invariant(
                    $"(+{m.RssDeltaMiB:F1}), live activations {m.ActivationMiB:F1} MiB, GEMM after {m.GemmAfterGflops:F1} GFLOP/s"));
            }
        }
        double gemmEnd = MeasureGemm(o, "end");
        return new TrainStepRun
        {
            Options = o,
            Date = date,
            Commit = RunEnvironment.Commit(RunEnvironment.RepoRoot()),
            LoadStart = loadStart,
            LoadEnd = RunEnvironment.LoadAverage(),
            GemmStart = gemmStart,
            GemmEnd = gemmEnd,
            Raw = raw.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TrainStepMeasurement>)kv.Value),
            Peer = peer,
            Warnings = warnings,
        };
    }

    private static double MeasureGemm(TrainStepOptions o, string when)
    {
        var gemm = WorkerProcess.Run<GemmMeasurement>($"gemm ({when})",
            ["--worker", TrainStepOptions.GemmWorker, "--threads", Text(o.Threads)], o.Threads);
        Console.WriteLine(Invariant($"  fp32 GEMM {gemm.N}^2 at {when}: {gemm.Gflops:F1} GFLOP/s (median of 5, {gemm.Threads} threads)"));
        return gemm.Gflops;
    }

    private static string[] WorkerArguments(TrainStepOptions o, string variant) =>
        ["--worker", variant, o.Shape.Flag, "--threads", Text(o.Threads), "--steps", Text(o.Steps), "--warmup", Text(o.Warmup)];

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
