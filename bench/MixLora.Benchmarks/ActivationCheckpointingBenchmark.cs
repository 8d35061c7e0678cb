using System.Diagnostics;
using System.Runtime.InteropServices;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Models;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Benchmarks;

/// <summary>
/// One MixLoRA training step (forward, LM + router loss, backward) on a random-weight LLaMA, with and without
/// activation checkpointing, alternated in one process: memory held for the backward after the forward, peak memory
/// of the step above the resting process, and step time.
/// </summary>
public static class ActivationCheckpointingBenchmark
{
    private const int MmapThreshold = -3; // glibc mallopt parameter M_MMAP_THRESHOLD

    public static void Run(int layers, int hidden, int sequence, int batch, int vocab, int repeats, int threads = 0)
    {
        // A fixed mmap threshold makes glibc return every freed tensor above 128 KiB to the OS at once, so RSS
        // follows the live tensors instead of the allocator's caches (both variants pay the same page faults).
        bool exactRss = OperatingSystem.IsLinux() && Mallopt(MmapThreshold, 128 * 1024) == 1;
        var config = new ModelConfig
        {
            ModelType = "llama", HiddenSize = hidden, IntermediateSize = hidden * 8 / 3 / 32 * 32, NumHiddenLayers = layers,
            NumAttentionHeads = hidden / 64, VocabSize = vocab, MaxPositionEmbeddings = Math.Max(2048, sequence), RmsNormEps = 1e-5,
        };
        config.Validate("(benchmark config)");
        if (threads > 0) set_num_threads(threads);
        using var model = CausalLM.Create(config, new RandomWeightSource(1));
        var adapterConfig = AdapterConfig.Parse("""
            { "peft_type": "MIXLORA", "routing_strategy": "mixlora", "num_experts": 4, "top_k": 2, "r": 8, "lora_alpha": 16,
              "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"] }
            """, "(benchmark adapter)");
        using var adapter = Adapter.Create(model, adapterConfig, new AdapterOptions { Seed = 2 });
        adapter.SetTraining(true);
        using var ids = randint(0, vocab, [batch, sequence], generator: new Generator(3));
        using var mask = ones([batch, sequence], dtype: ScalarType.Int64);

        Console.WriteLine($"Activation checkpointing: random llama L={layers} H={hidden} I={config.IntermediateSize} heads={config.NumAttentionHeads} " +
            $"V={vocab}; MixLoRA E=4 top-2 r=8 on all projections; batch {batch} x {sequence} tokens; fp32 CPU, {get_num_threads()} threads");
        Console.WriteLine(exactRss ? "glibc mmap threshold fixed at 128 KiB (RSS tracks live tensors)" : "RSS includes allocator caches (mallopt unavailable)");
        Console.WriteLine($"load average at start: {LoadAverage()}");
        bool[] variants = [false, true];
        var results = variants.Select(_ => new List<StepMeasure>()).ToArray();
        for (int r = 0; r <= repeats; r++)                                               // r = 0: warm-up
            for (int v = 0; v < variants.Length; v++)
            {
                var measure = Step(model, adapter, ids, mask, variants[v]);
                if (r > 0) results[v].Add(measure);
            }
        Console.WriteLine($"median of {repeats} steps each (alternating), MiB and ms:");
        Console.WriteLine($"{"variant",-14} {"held after forward",18} {"step peak",10} {"forward ms",11} {"step ms",9}");
        var summary = results.Select(Summary).ToArray();
        for (int v = 0; v < variants.Length; v++)
        {
            var (held, peak, forwardMs, ms) = summary[v];
            Console.WriteLine($"{(variants[v] ? "checkpointed" : "plain"),-14} {held,18:F1} {peak,10:F1} {forwardMs,11:F0} {ms,9:F0}");
        }
        Console.WriteLine($"load average at end: {LoadAverage()} (other processes inflate the times)");
        Console.WriteLine($"checkpointed / plain: held {summary[1].Held / summary[0].Held:F3}, peak {summary[1].Peak / summary[0].Peak:F3}, time {summary[1].Ms / summary[0].Ms:F2}");
    }

    private sealed record StepMeasure(double HeldMiB, double PeakMiB, double ForwardMs, double Ms);

    private static (double Held, double Peak, double ForwardMs, double Ms) Summary(List<StepMeasure> s) =>
        (Median(s.Select(m => m.HeldMiB)), Median(s.Select(m => m.PeakMiB)), Median(s.Select(m => m.ForwardMs)), Median(s.Select(m => m.Ms)));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static StepMeasure Step(CausalLM model, Adapter adapter, Tensor ids, Tensor mask, bool checkpointing)
    {
        foreach (var p in adapter.TrainableParameters()) p.grad = null;
        model.ActivationCheckpointing = checkpointing;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long resting = GenerationBenchmark.Rss();
        ResetPeakRss();
        var clock = Stopwatch.StartNew();
        long held;
        double forwardMs;
        using (NewDisposeScope())
        {
            var output = model.Forward(ids, mask);
            var loss = CausalLmLoss.Compute(output.Logits, ids, mask);
            if (adapter.AuxiliaryLoss(output.RouterLogits, mask) is { } aux) loss = loss + aux;
            forwardMs = clock.Elapsed.TotalMilliseconds;
            held = GenerationBenchmark.Rss() - resting;                                // the graph's saved tensors, logits, losses
            loss.backward();
        }
        double ms = clock.Elapsed.TotalMilliseconds;
        return new StepMeasure(held / 1024.0, (PeakRss() - resting) / 1024.0, forwardMs, ms);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Resets the kernel's peak-RSS counter (VmHWM) of this process (Linux: clear_refs 5).</summary>
    private static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static long PeakRss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);
}
