using System.Diagnostics;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Models;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// One variant of the training-step benchmark in the current process: a random-weight llama of the given shape, the
/// variant's adapter, then warm-up and measured steps (forward + LM loss (+ aux loss) + backward + AdamW), with phase
/// times, peak RSS and the routing load. Mirrors the PyTorch peer's worker (../shared/peer/peer_bench.py).
/// </summary>
public static class TrainStepWorker
{
    public const int Seed = 0;

    public static TrainStepMeasurement Run(TrainStepShape shape, string variant, int steps, int warmup, int threads,
        Action<string>? progress = null)
    {
        if (threads > 0) set_num_threads(threads);
        long rssStart = ProcessMemory.PeakRssKiB();
        using var run = Setup.Create(shape, variant);
        var (model, adapter) = (run.Model, run.Adapter);
        long rssModel = run.RssAfterModelKiB;
        var statistics = adapter?.Config.IsMixLora == true ? adapter.CollectRouterStatistics() : null;
        long frozen = model.ParameterCount();
        long trainable = adapter?.TrainableParameterCount ?? 0;
        GC.Collect();
        long rssBaseline = ProcessMemory.PeakRssKiB();
        long rssBaselineNow = ProcessMemory.RssKiB();

        var records = new List<StepPhases>();
        for (int i = 0; i < warmup + steps; i++)
        {
            var phases = run.Step();
            progress?.Invoke($"[{variant}] step {i + 1}/{warmup + steps}{(i < warmup ? " (warm-up)" : "")}: {phases.Total * 1e3:F0} ms, loss {phases.Loss:F4}");
            if (i < warmup) statistics?.Reset();
            else records.Add(phases);
        }
        long rssPeak = ProcessMemory.PeakRssKiB();
        double gemmAfter = Gemm.Gflops();
        double routedPerToken = 0;
        if (statistics?.Snapshot() is { } snapshot && snapshot.Tokens.Sum() > 0)
            routedPerToken = snapshot.AssignmentCounts.Sum(layer => layer.Sum()) / (double)snapshot.Tokens.Sum();
        return new TrainStepMeasurement
        {
            Variant = variant,
            Steps = steps,
            Warmup = warmup,
            StepTimesS = records.Select(r => r.Total).ToArray(),
            ForwardTimesS = records.Select(r => r.Forward).ToArray(),
            BackwardTimesS = records.Select(r => r.Backward).ToArray(),
            OptimizerTimesS = records.Select(r => r.Optimizer).ToArray(),
            LossFirstLast = [records[0].Loss, records[^1].Loss],
            ParamsFrozen = frozen,
            ParamsTrainable = trainable,
            RssStartMiB = rssStart / 1024.0,
            RssAfterModelMiB = rssModel / 1024.0,
            RssBaselineMiB = rssBaseline / 1024.0,
            RssBaselineCurrentMiB = rssBaselineNow / 1024.0,
            RssPeakMiB = rssPeak / 1024.0,
            Threads = get_num_threads(),
            ExpertsPerToken = routedPerToken,
            GemmAfterGflops = gemmAfter,
        };
    }

    /// <summary>
    /// Live activation memory of one training step (forward, loss, backward, optimizer): what the step adds to RSS
    /// above what is resident before it, in a worker whose glibc returns freed memory at once (the parent starts it
    /// with GLIBC_TUNABLES mmap_threshold=64 KiB, trim_threshold=0: see <see cref="LiveMemoryEnvironment"/>). The
    /// peak-RSS delta of the timed worker also counts the heap glibc retains by default; this counts live tensors.
    /// One warm-up step first, so one-time allocations (optimizer moments, JIT) are not counted.
    /// </summary>
    public static TrainStepMeasurement MeasureLiveMemory(TrainStepShape shape, string variant, int threads)
    {
        if (threads > 0) set_num_threads(threads);
        using var run = Setup.Create(shape, variant);
        run.Step();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        double? activation = null;
        if (ProcessMemory.ResetPeak())
        {
            long before = ProcessMemory.RssKiB();
            run.Step();
            activation = (ProcessMemory.PeakRssKiB() - before) / 1024.0;
        }
        return new TrainStepMeasurement { Variant = variant, ActivationMiB = activation, Threads = get_num_threads() };
    }

    /// <summary>The environment of a live-memory worker: glibc maps every allocation above 64 KiB on its own and unmaps it when freed.</summary>
    public static IReadOnlyDictionary<string, string> LiveMemoryEnvironment { get; } = new Dictionary<string, string>
    {
        ["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=0",
    };

    /// <summary>The model, adapter, optimizer and batch of one variant, and its step.</summary>
    private sealed class Setup : IDisposable
    {
        public required CausalLM Model { get; init; }
        public Adapter? Adapter { get; init; }
        public AdamW? Optimizer { get; init; }
        public required Tensor Ids { get; init; }
        public long RssAfterModelKiB { get; init; }

        public static Setup Create(TrainStepShape shape, string variant)
        {
            var model = CausalLM.Create(shape.ModelConfig(), new RandomWeightSource(Seed));
            long rssModel = ProcessMemory.PeakRssKiB();
            var adapter = TrainStepVariants.AdapterConfig(variant) is { } adapterConfig
                ? Adapters.Adapter.Create(model, adapterConfig, new AdapterOptions { Seed = Seed + 1, ExpertPath = TrainStepVariants.ExpertPath(variant) })
                : null;
            adapter?.SetTraining(true);
            var optimizer = adapter is null ? null
                : new AdamW(ParameterGroups.Single(adapter.NamedTensors.Select(kv => (kv.Key, kv.Value)), 1e-4), weightDecay: 0.01);
            var ids = randint(0, shape.Vocab, [shape.Batch, shape.Seq], generator: new Generator(Seed + 2));
            return new Setup { Model = model, Adapter = adapter, Optimizer = optimizer, Ids = ids, RssAfterModelKiB = rssModel };
        }

        public StepPhases Step() => Adapter is null ? ForwardOnly(Model, Ids) : TrainingStep(Model, Adapter, Optimizer!, Ids);

        public void Dispose()
        {
            Optimizer?.Dispose();
            Adapter?.Dispose();
            Ids.Dispose();
            Model.Dispose();
        }
    }

    private sealed record StepPhases(double Forward, double Backward, double Optimizer, double Total, double Loss);

    private static StepPhases ForwardOnly(CausalLM model, Tensor ids)
    {
        var clock = Stopwatch.StartNew();
        using (no_grad())
        using (NewDisposeScope())
            model.Forward(ids);
        double t = clock.Elapsed.TotalSeconds;
        return new StepPhases(t, 0, 0, t, double.NaN);
    }

    private static StepPhases TrainingStep(CausalLM model, Adapter adapter, Optimizer optimizer, Tensor ids)
    {
        var clock = Stopwatch.StartNew();
        double forward, backward, loss;
        using (NewDisposeScope())
        {
            // As the trainer does: the loss straight from the hidden states, without the [B, T, V] logits.
            var output = model.ForwardHidden(ids);
            var total = ChunkedCausalLmLoss.Compute(model, output.Hidden, ids);
            if (adapter.AuxiliaryLoss(output.RouterLogits) is { } aux) total = total + aux;
            forward = clock.Elapsed.TotalSeconds;
            total.backward();
            backward = clock.Elapsed.TotalSeconds - forward;
            loss = total.item<float>();
        }
        optimizer.Step();
        optimizer.ZeroGrad();
        double all = clock.Elapsed.TotalSeconds;
        return new StepPhases(forward, backward, all - forward - backward, all, loss);
    }
}
