using System.Diagnostics;
using System.Text.Json;
using MixLora.Benchmarks.Harness;
using MixLora.Benchmarks.TrainStep;
using MixLora.Config;
using MixLora.Generation;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Benchmarks;

/// <summary>
/// Peak memory of generating with a 262,144-token vocabulary, on a random model of Gemma-3-1B's width (hidden 1152,
/// 4 heads of 256 with 1 KV head, 2 layers). Two phases, each in a fresh worker process (an allocator keeps what a
/// phase freed, so phases sharing a process hide each other's peaks): "generate" is <see cref="TokenGenerator"/>,
/// which computes the head at the last position only ([1, V]); "full logits" is a prefill that computes it at every
/// prompt position ([1, T, V]), what generation did before. Reported: peak RSS above the RSS after the model is built
/// and warmed up, and the time.
/// </summary>
public static class LargeVocabularyBenchmark
{
    public sealed record Phase(string Name, string What, double PeakMiB, double Seconds);

    public static void Run(int promptTokens, int newTokens, string? phase, string? output)
    {
        if (phase is not null)
        {
            Console.WriteLine(JsonSerializer.Serialize(RunPhase(phase, promptTokens, newTokens), JsonFiles.OneLine)); // the worker's result line
            return;
        }
        var config = Config();
        Console.WriteLine($"Large vocabulary: random gemma3_text, hidden {config.HiddenSize}, vocabulary {config.VocabSize}, " +
                          $"{config.NumHiddenLayers} layers; {promptTokens}-token prompt, {newTokens} new tokens; fp32 CPU, " +
                          $"{get_num_threads()} threads; each phase in a fresh process");
        string[] arguments = ["--prompt", $"{promptTokens}", "--new-tokens", $"{newTokens}"];
        var phases = new[] { "generate", "full-logits" }
            .Select(name => WorkerProcess.Run<Phase>(name, [.. arguments, "--phase", name], get_num_threads(), verb: "large-vocab"))
            .ToList();
        foreach (var p in phases) Console.WriteLine($"{p.Name,-12} {p.What,-40} peak +{p.PeakMiB,7:F0} MiB  {p.Seconds,6:F2} s");
        Console.WriteLine($"peak growth: generate {phases[0].PeakMiB:F0} MiB vs full logits {phases[1].PeakMiB:F0} MiB " +
                          $"({phases[0].PeakMiB / phases[1].PeakMiB:F2}x)");
        if (output is null) return;
        var report = new { promptTokens, newTokens, config.VocabSize, config.HiddenSize, config.NumHiddenLayers, phases };
        MixLora.IO.AtomicFile.Write(output, path => File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true })));
        Console.WriteLine($"written: {output}");
    }

    private static ModelConfig Config()
    {
        var config = new ModelConfig
        {
            ModelType = "gemma3_text", HiddenSize = 1152, IntermediateSize = 6912, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 1, HeadDimOverride = 256, VocabSize = 262_144, MaxPositionEmbeddings = 32_768, RmsNormEps = 1e-6,
            SlidingWindow = 512, QueryPreAttnScalar = 256,
        };
        config.Validate("(benchmark config)");
        return config;
    }

    private static Phase RunPhase(string name, int promptTokens, int newTokens)
    {
        var config = Config();
        using var model = CausalLM.Create(config, new RandomWeightSource(1));
        model.eval();
        var prompt = Enumerable.Range(0, promptTokens).Select(i => 2 + (int)((i * 7919L) % (config.VocabSize - 2))).ToArray();
        var generator = new TokenGenerator(model);
        var options = new SamplingOptions { Seed = 1, MaxNewTokens = newTokens, Temperature = 0 };
        _ = generator.Generate(prompt[..16], options with { MaxNewTokens = 2 }, []).Count();           // warm-up
        GC.Collect();
        if (!ProcessMemory.ResetPeak()) Console.Error.WriteLine("warning: cannot reset the peak-RSS counter");
        long start = ProcessMemory.RssKiB();
        var clock = Stopwatch.StartNew();
        string what;
        if (name == "generate") what = $"{generator.Generate(prompt, options, []).Count()} new tokens";
        else if (name == "full-logits")
        {
            using var _ = no_grad();
            using var ids = tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0);              // [1, T]
            using var result = model.Forward(ids);                                                   // [1, T, V] logits
            using var next = result.Logits[0, -1].argmax();
            what = $"logits [1, {promptTokens}, {config.VocabSize}]";
        }
        else throw new UsageException($"large-vocab: --phase must be generate or full-logits, got \"{name}\"");
        return new Phase(name, what, (ProcessMemory.PeakRssKiB() - start) / 1024.0, clock.Elapsed.TotalSeconds);
    }
}
