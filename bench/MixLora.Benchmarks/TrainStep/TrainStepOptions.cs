using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The command line of the train-step case (parent and worker modes share it).</summary>
public sealed record TrainStepOptions
{
    public required TrainStepShape Shape { get; init; }
    public int Threads { get; init; }
    public int Steps { get; init; }
    public int Warmup { get; init; }
    public int Rounds { get; init; }
    public required IReadOnlyList<string> Variants { get; init; }
    public string? PeerJson { get; init; }
    public string? Output { get; init; }
    public string? Chart { get; init; }
    /// <summary>Worker mode: measure this variant (or "gemm") in this process.</summary>
    public string? Worker { get; init; }
    public bool Help { get; init; }
    /// <summary>Worker mode, hidden: measure only the live activation memory of a step (see <see cref="TrainStepWorker.MeasureLiveMemory"/>).</summary>
    public bool MemoryOnly { get; init; }

    public const string GemmWorker = "gemm";

    public static string Usage => """
        train-step: one training step (forward + loss + backward + AdamW) per variant, each variant in a fresh process
          --quick | --full        peer shape (default --full: hidden 1024, 8 layers, seq 256, batch 4)
          --threads N             torch threads per worker process (default 2)
          --steps N               measured steps per variant and round (default 5)
          --warmup N              warm-up steps before them (default 2)
          --rounds R              repeat the sweep over all variants R times, interleaved (default 1)
          --variants a,b          subset, in this order (default all: base_fwd,lora,mixlora_vanilla,mixlora_shared,mixlora_fused,mixlora_switch,mixlora_dynamic)
          --peer-json FILE        the PyTorch peer's peer_bench.py --output file: adds ours/peer ratios and bars
          --output FILE           result JSON (default bench/results/latest.json); a .md table is written next to it
          --chart FILE.png        step time and activation memory chart (default: the output's name with .png)
          --help                  this text
        """;

    public static TrainStepOptions Parse(string[] args)
    {
        var options = new OptionReader("train-step", args,
            flags: ["--quick", "--full", "--tiny", "--help", "-h", "--memory"],
            valued: ["--threads", "--steps", "--warmup", "--rounds", "--variants", "--peer-json", "--output", "--chart", "--worker"]);
        var worker = options.String("--worker");
        if (worker is not null && worker != GemmWorker && !TrainStepVariants.All.Contains(worker))
            throw options.Error($"unknown worker '{worker}'; expected gemm or one of {string.Join(", ", TrainStepVariants.All)}");
        var chart = options.String("--chart");
        if (chart is not null && !chart.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw options.Error($"--chart expects a .png file name, got '{chart}'");
        return new TrainStepOptions
        {
            Shape = TrainStepShape.FromOptions(options),
            Threads = options.Int("--threads", 2, min: 1),
            Steps = options.Int("--steps", 5, min: 1),
            Warmup = options.Int("--warmup", 2, min: 0),
            Rounds = options.Int("--rounds", 1, min: 1),
            Variants = ParseVariants(options),
            PeerJson = options.String("--peer-json"),
            Output = options.String("--output"),
            Chart = chart,
            Worker = worker,
            MemoryOnly = options.Flag("--memory"),
            Help = options.Flag("--help") || options.Flag("-h"),
        };
    }

    private static IReadOnlyList<string> ParseVariants(OptionReader options)
    {
        if (options.String("--variants") is not { } list) return TrainStepVariants.All;
        var variants = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (variants.Length == 0) throw options.Error("--variants is empty");
        if (variants.FirstOrDefault(v => !TrainStepVariants.All.Contains(v)) is { } unknown)
            throw options.Error($"unknown variant '{unknown}'; choose from {string.Join(", ", TrainStepVariants.All)}");
        if (variants.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw options.Error($"variant '{twice.Key}' is listed twice");
        return variants;
    }
}
