using System.Diagnostics;
using System.Text.Json;
using MixLora.Benchmarks.TrainStep;
using MixLora.Config;
using MixLora.Generation;
using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Benchmarks;

/// <summary>
/// Peak memory of generating with a 262,144-token vocabulary, on a random model of Gemma-3-1B's width (hidden 1152,
/// 4 heads of 256 with 1 KV head, 2 layers). Side by side in one process, each phase after a reset of the kernel's
/// peak-RSS counter: "full logits" is a prefill that computes the head at every prompt position ([1, T, V], what
/// generation did before), "generate" is <see cref="TokenGenerator"/>, which computes the head at the last position
/// only ([1, V]). Reported: peak RSS above the RSS at the phase's start, and the time.
/// </summary>
public static class LargeVocabularyBenchmark
{
    public static void Run(int promptTokens, int newTokens, string? output)
    {
        var config = new ModelConfig
        {
            ModelType = "gemma3_text", HiddenSize = 1152, IntermediateSize = 6912, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 1, HeadDimOverride = 256, VocabSize = 262_144, MaxPositionEmbeddings = 32_768, RmsNormEps = 1e-6,
            SlidingWindow = 512, QueryPreAttnScalar = 256,
        };
        config.Validate("(benchmark config)");
        using var model = CausalLM.Create(config, new RandomWeightSource(1));
        model.eval();
        var prompt = Enumerable.Range(0, promptTokens).Select(i => 2 + (int)((i * 7919L) % (config.VocabSize - 2))).ToArray();
        Console.WriteLine($"Large vocabulary: random gemma3_text, hidden {config.HiddenSize}, vocabulary {config.VocabSize}, " +
                          $"{config.NumHiddenLayers} layers; {promptTokens}-token prompt; fp32 CPU, {get_num_threads()} threads");
        if (!ProcessMemory.ResetPeak()) Console.WriteLine("warning: cannot reset the peak-RSS counter; peaks include earlier phases");

        var generator = new TokenGenerator(model);
        var options = new SamplingOptions { Seed = 1, MaxNewTokens = newTokens, Temperature = 0 };
        _ = generator.Generate(prompt[..16], options with { MaxNewTokens = 2 }, []).Count();           // warm-up
        var full = Measure("full logits", () =>
        {
            using var _ = no_grad();
            using var ids = tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0);              // [1, T]
            using var result = model.Forward(ids);                                                   // [1, T, V] logits
            using var next = result.Logits[0, -1].argmax();
            return $"logits [1, {promptTokens}, {config.VocabSize}]";
        });
        var generate = Measure("generate", () => $"{generator.Generate(prompt, options, []).Count()} new tokens");
        Console.WriteLine($"peak growth: generate {generate.PeakMiB:F0} MiB vs full logits {full.PeakMiB:F0} MiB " +
                          $"({generate.PeakMiB / full.PeakMiB:F2}x)");
        if (output is null) return;
        var report = new { promptTokens, newTokens, config.VocabSize, config.HiddenSize, phases = new[] { full, generate } };
        MixLora.IO.AtomicFile.Write(output, path => File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true })));
        Console.WriteLine($"written: {output}");
    }

    public sealed record Phase(string Name, string What, double PeakMiB, double Seconds);

    private static Phase Measure(string name, Func<string> work)
    {
        GC.Collect();
        ProcessMemory.ResetPeak();
        long start = ProcessMemory.RssKiB();
        var clock = Stopwatch.StartNew();
        string what = work();
        double seconds = clock.Elapsed.TotalSeconds;
        var phase = new Phase(name, what, (ProcessMemory.PeakRssKiB() - start) / 1024.0, seconds);
        Console.WriteLine($"{name,-12} {what,-40} peak +{phase.PeakMiB,7:F0} MiB  {seconds,6:F2} s");
        return phase;
    }
}
