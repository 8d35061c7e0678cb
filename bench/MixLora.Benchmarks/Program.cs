using System.Diagnostics;
using MixLora.Adapters;
using MixLora.Benchmarks;
using static TorchSharp.torch;

// Benchmarks, run with: dotnet run -c Release --project bench/MixLora.Benchmarks -- <case> [options]
//   experts  [--repeats N] [--tokens N] [--all]  MixLoRA expert paths (Vanilla, Shared, Fused) on a mid-size LLaMA FFN;
//            --all adds the dynamic and switch strategies. Paths are timed round-robin so background load hits them alike.
//   generate [--model DIR] [--new-tokens N]      tokens/s with and without KV cache, RSS before/after (default: stories260K)
//   train-memory [--model DIR] [--steps N]        RSS every 50 training steps of the demo adapter (must stay flat)
//   large-vocab [--prompt N] [--new-tokens N] [--output FILE]
//                                                 peak memory of generating with a 262,144-token vocabulary (random
//                                                 Gemma-3-1B-wide model): head at the last position vs at every position
//   checkpointing [--layers N] [--hidden N] [--seq N] [--batch N] [--vocab N] [--repeats N] [--threads N]
//                                                 one MixLoRA training step with vs without activation checkpointing:
//                                                 memory held for the backward, step peak memory, step time
//   train-step [--quick|--full] [--threads N] [--steps N] [--warmup N] [--rounds R] [--variants a,b] [--peer-json FILE]
//              [--output FILE] [--chart FILE.png]
//                                                 one training step per variant (base_fwd, lora, mixlora_vanilla/shared/
//                                                 fused/switch/dynamic), each in a fresh worker process: time, phases,
//                                                 activation memory, MFU (the PyTorch peer's FLOP accounting), ours/peer
//                                                 ratios and the issue's targets; JSON + markdown + PNG (see --help)
//   serve [--clients 1,4,16,64] [--requests N] [--new-tokens N] [--output FILE]
//                                                 `mixlora serve` over loopback HTTP: aggregate tokens/s and time to first
//                                                 token per number of concurrent clients (see --help)
//   decode [--quick|--full] [--threads N] [--prompt-tokens N] [--new-tokens N] [--output FILE]
//                                                 prefill and KV-cached greedy decode tokens/s of base, LoRA and MixLoRA
//                                                 at batch 1 and 8; JSON + markdown (see --help)
//   export-decode [--model DIR] [--threads N] [--prompt-tokens N] [--new-tokens N] [--output FILE]
//                                                 batch-1 greedy decode tokens/s: llama.cpp on our exported f32 GGUF vs
//                                                 our own decoder, same model, prompt and threads; JSON (see --help)
if (args.Length > 0 && args[0] == "train-step")
{
    Environment.ExitCode = MixLora.Benchmarks.TrainStep.TrainStepBenchmark.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "serve")
{
    Environment.ExitCode = MixLora.Benchmarks.Serve.ServeBenchmark.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "decode")
{
    Environment.ExitCode = MixLora.Benchmarks.Decode.DecodeBenchmark.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "export-decode")
{
    Environment.ExitCode = MixLora.Benchmarks.ExportDecode.ExportDecodeBenchmark.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "train-memory")
{
    TrainingMemoryBenchmark.Run(StringOption("--model", Path.Combine(RepoRoot(), "assets", "stories260K-hf")), IntOption("--steps", 500));
    return;
}
if (args.Length > 0 && args[0] == "checkpointing")
{
    ActivationCheckpointingBenchmark.Run(IntOption("--layers", 4), IntOption("--hidden", 512), IntOption("--seq", 256), IntOption("--batch", 8),
        IntOption("--vocab", 1000), IntOption("--repeats", 3), IntOption("--threads", 0));
    return;
}
if (args.Length > 0 && args[0] == "large-vocab")
{
    LargeVocabularyBenchmark.Run(IntOption("--prompt", 512), IntOption("--new-tokens", 8),
        args.Contains("--phase") ? StringOption("--phase", "") : null, args.Contains("--output") ? StringOption("--output", "") : null);
    return;
}
if (args.Length > 0 && args[0] == "generate")
{
    GenerationBenchmark.Run(StringOption("--model", Path.Combine(RepoRoot(), "assets", "stories260K-hf")), IntOption("--new-tokens", 500));
    return;
}
int repeats = IntOption("--repeats", 7);
int tokens = IntOption("--tokens", 512);
bool all = args.Contains("--all");
var shape = new BenchmarkShape(Hidden: 1024, Intermediate: 2816, Experts: 8, TopK: 2, Rank: 16, Tokens: tokens, Batch: 4);
Console.WriteLine($"MixLoRA expert paths: H={shape.Hidden} I={shape.Intermediate} E={shape.Experts} K={shape.TopK} r={shape.Rank} " +
    $"N={shape.Tokens} tokens, fp32 CPU, {get_num_threads()} threads; 1 warm-up, then {repeats} round-robin repetitions");

var strategies = all ? new[] { RoutingStrategy.TopK, RoutingStrategy.Dynamic, RoutingStrategy.Switch } : new[] { RoutingStrategy.TopK };
ExpertPath[] paths = [ExpertPath.Vanilla, ExpertPath.Shared, ExpertPath.Fused];
Console.WriteLine($"load average at start: {LoadAverage()}");
var total = Stopwatch.StartNew();
foreach (var strategy in strategies)
{
    var bench = new MoeBenchmarkCase(shape, strategy);
    var blocks = paths.Select(bench.Block).ToArray();
    var forward = Timings.RoundRobin(blocks.Select(b => (Action)(() => bench.Forward(b))).ToArray(), repeats);
    var train = Timings.RoundRobin(blocks.Select(b => (Action)(() => bench.ForwardBackward(b))).ToArray(), repeats);
    Console.WriteLine();
    Console.WriteLine($"routing: {RoutingStrategyNames.Format(strategy)}   (ms: median [min]; ratio = median / Vanilla median)");
    Console.WriteLine($"{"path",-8} {"forward ms",18} {"ratio",6} {"fwd+bwd ms",18} {"ratio",6}");
    for (int i = 0; i < paths.Length; i++)
    {
        Console.WriteLine($"{paths[i],-8} {$"{forward[i].Median,8:F1} [{forward[i].Min,6:F1}]",18} {forward[i].Median / forward[0].Median,6:F2} " +
            $"{$"{train[i].Median,8:F1} [{train[i].Min,6:F1}]",18} {train[i].Median / train[0].Median,6:F2}");
    }
}
Console.WriteLine();
Console.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s; load average at end: {LoadAverage()}");

// Other processes on the machine inflate medians; the load average tells how much to trust a run.
static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

string StringOption(string name, string fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

static string RepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "MixLora.slnx"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

int IntOption(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], out int value) ? value : fallback;
}
