using System.Diagnostics;
using MixLora.Config;
using MixLora.IO;
using MixLora.Training;

namespace MixLora.Benchmarks;

/// <summary>
/// Trains the demo adapter for a fixed number of micro-steps and samples the process RSS every 50 steps: after
/// warm-up it must stay flat (no native tensor leaks per step).
/// </summary>
public static class TrainingMemoryBenchmark
{
    public static void Run(string modelDir, int steps)
    {
        using var model = PretrainedModel.Load(modelDir, new RunOptions());
        var runDir = Path.Combine(Path.GetTempPath(), "mixlora-bench-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(runDir);
        try
        {
            var configPath = DemoTraining.WriteInputs(runDir);
            var config = TrainingConfig.Load(configPath);
            // Micro-batches of 4 and enough epochs for `steps` micro-steps.
            var adapter = config.Lora[0] with { BatchSize = 4, MicroBatchSize = 4, NumEpochs = 1000 };
            config = config with { Lora = [adapter], SaveStep = 1_000_000 };
            var observer = new RssSampler(steps);
            var clock = Stopwatch.StartNew();
            Console.WriteLine($"Training memory: demo MixLoRA adapter on {modelDir}, micro-batch 4, {steps} micro-steps, fp32 CPU");
            Trainer.Run(model, config, new TrainingRunOptions { OutputDir = runDir, BaseDir = runDir, StopAfterSteps = steps }, observer);
            Console.WriteLine($"{steps} steps in {clock.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine("step  RSS MiB  live tensors");
            foreach (var (step, rss, live) in observer.Samples) Console.WriteLine($"{step,4}  {rss / 1024.0,7:F1}  {live,12}");
            var afterWarmup = observer.Samples.Where(s => s.Step >= 100).Select(s => s.Rss).ToList();
            if (afterWarmup.Count > 1)
                Console.WriteLine($"peak RSS {observer.Samples.Max(s => s.Rss) / 1024.0:F1} MiB; change from step 100 to {observer.Samples[^1].Step}: {(afterWarmup[^1] - afterWarmup[0]) / 1024.0:+0.0;-0.0} MiB");
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    private sealed class RssSampler(int steps) : ITrainingObserver
    {
        public List<(long Step, long Rss, long Live)> Samples { get; } = [];

        public void OnStart(IReadOnlyList<AdapterPlan> plans) { }

        public void OnMessage(string message) { }

        public void OnStep(StepReport r)
        {
            if (r.MicroStep % 50 != 0 && r.MicroStep != steps) return;
            GC.Collect();
            Samples.Add((r.MicroStep, GenerationBenchmark.Rss(), TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        }
    }
}
