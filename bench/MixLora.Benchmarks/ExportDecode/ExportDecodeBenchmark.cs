using System.Diagnostics;
using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;
using MixLora.Config;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.ExportDecode;

/// <summary>
/// export-decode: batch-1 greedy decode tokens/s of llama.cpp on our exported f32 GGUF against our own decoder
/// (TokenGenerator, KV cache) on the same weights, prompt, thread count and number of new tokens.
/// </summary>
public static class ExportDecodeBenchmark
{
    public const string Usage = """
        export-decode [--model DIR] [--threads N] [--prompt-tokens N] [--new-tokens N] [--output FILE]
          --model DIR        a Hugging Face model folder (default: a seeded random llama, hidden 1024, intermediate 2816,
                             8 layers, 16 heads, 4 KV heads, vocab 32000, with the bundled Llama-2 tokenizer)
          --threads N        threads for both engines (default 2)
          --prompt-tokens N  prompt length (default 32)
          --new-tokens N     generated tokens; the decode rate counts those after the first (default 64)
          --output FILE      JSON result (default: bench/results/export-decode-latest.json)
        """;

    public static int Run(string[] args)
    {
        OptionReader options;
        try
        {
            options = new OptionReader("export-decode", args, ["--help"], ["--model", "--threads", "--prompt-tokens", "--new-tokens", "--output"]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return UsageException.ExitCode;
        }
        if (options.Flag("--help"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        int threads = options.Int("--threads", 2, 1), promptTokens = options.Int("--prompt-tokens", 32, 1), newTokens = options.Int("--new-tokens", 64, 2);
        string root = RunEnvironment.RepoRoot();
        string output = Path.GetFullPath(options.String("--output") ?? Path.Combine(root, "bench", "results", "export-decode-latest.json"));
        set_num_threads(threads);

        var (model, tokenizerDir, description) = options.String("--model") is { } dir
            ? (PretrainedModel.Load(dir).Model, dir, dir)
            : (CausalLM.Create(DefaultConfig(), new RandomWeightSource(seed: 0)), Path.Combine(root, "assets", "tokenizers", "llama2"), "random llama 1024/2816/8L/16H/4KV/32000");
        model.eval();
        string gguf = Path.Combine(Path.GetTempPath(), $"mixlora-export-decode-{Guid.NewGuid():N}.gguf");
        try
        {
            LlamaCpp.ExportF32(model, tokenizerDir, gguf);
            // A fixed, varied prompt inside any vocabulary of at least 1000 ids; BOS first.
            var prompt = Enumerable.Range(0, promptTokens).Select(i => i == 0 ? 1 : 3 + (i * 7919) % 997).ToList();

            var greedy = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.0, MaxNewTokens = newTokens, UseCache = true };
            // A warm-up generation first: .NET compiles the decode kernels to their optimised form while they run, and
            // llama.cpp's native code needs no such warm-up.
            _ = new TokenGenerator(model).Generate(prompt, greedy, []).ToList();
            var ourClock = new Stopwatch();
            var ours = new List<int>();
            foreach (var id in new TokenGenerator(model).Generate(prompt, greedy, []))
            {
                ours.Add(id);
                if (ours.Count == 1) ourClock.Restart();
            }
            double oursRate = (ours.Count - 1) / ourClock.Elapsed.TotalSeconds;

            using var llama = new LlamaCpp(gguf, contextSize: (uint)(promptTokens + newTokens + 1), threads: threads);
            var (theirs, _, llamaDecodeSeconds) = llama.TimedGreedy(prompt, newTokens);
            double llamaRate = (theirs.Count - 1) / llamaDecodeSeconds;

            var result = new JsonObject
            {
                ["case"] = "export-decode", ["model"] = description, ["threads"] = threads, ["prompt_tokens"] = promptTokens, ["new_tokens"] = newTokens,
                ["ours_tokens_per_s"] = Math.Round(oursRate, 2), ["llamacpp_tokens_per_s"] = Math.Round(llamaRate, 2),
                ["ratio_ours_over_llamacpp"] = Math.Round(oursRate / llamaRate, 3), ["same_greedy_tokens"] = ours.SequenceEqual(theirs),
                ["load_average"] = RunEnvironment.LoadAverage(), ["commit"] = RunEnvironment.Commit(root),
            };
            JsonFiles.WriteAtomic(output, result);
            Console.WriteLine(result.ToJsonString(JsonFiles.Options));
            Console.WriteLine($"wrote {output}");
            return 0;
        }
        finally
        {
            File.Delete(gguf);
            model.Dispose();
        }
    }

    private static ModelConfig DefaultConfig() => new()
    {
        ModelType = "llama", HiddenSize = 1024, IntermediateSize = 2816, NumHiddenLayers = 8, NumAttentionHeads = 16, NumKeyValueHeads = 4,
        VocabSize = 32000, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5, RopeTheta = 10000,
    };
}
