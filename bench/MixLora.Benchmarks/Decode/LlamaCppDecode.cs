using System.Text.Json.Serialization;
using MixLora.Benchmarks.ExportDecode;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.Decode;

/// <summary>llama.cpp's prefill and batch-1 decode rates on the benchmark's base model: medians over the repeats.</summary>
public sealed record LlamaCppResult
{
    [JsonPropertyName("gguf")] public required string Gguf { get; init; }
    [JsonPropertyName("prefill_tokens_per_s")] public double PrefillTokensPerS { get; init; }
    [JsonPropertyName("decode_tokens_per_s")] public double DecodeTokensPerS { get; init; }
    [JsonPropertyName("raw_s")] public Dictionary<string, double[]> RawSeconds { get; init; } = [];
}

/// <summary>
/// Runs llama.cpp (LLamaSharp, CPU, f32 KV cache, no flash attention, the same thread count) on the same prompt ids
/// and number of new tokens as our batch-1 run: one warm-up, then the median of the repeats.
/// </summary>
public static class LlamaCppDecode
{
    public static LlamaCppResult Run(DecodeOptions o, DecodeModels models, IReadOnlyList<int> prompt)
    {
        string? exported = null;
        string gguf = o.Gguf ?? (exported = Path.Combine(Path.GetTempPath(), $"mixlora-decode-{Guid.NewGuid():N}.gguf"));
        try
        {
            if (exported is not null) LlamaCpp.ExportF32(models.Model, models.TokenizerDir, exported);
            using var llama = new LlamaCpp(gguf, contextSize: (uint)(prompt.Count + o.NewTokens + 2), threads: o.Threads);
            var prefill = new List<double>();
            var decode = new List<double>();
            for (int rep = 0; rep <= DecodeSweep.Repeats; rep++)
            {
                // newTokens + 1 tokens: the first comes with the prefill, then newTokens decode steps as in our runs.
                var (_, prefillSeconds, decodeSeconds) = llama.TimedGreedy(prompt, o.NewTokens + 1);
                Console.WriteLine($"  [llama.cpp] {(rep == 0 ? "warm-up" : $"run {rep}/{DecodeSweep.Repeats}")}: prefill {prefillSeconds * 1e3:F1} ms, decode {o.NewTokens / decodeSeconds:F1} tok/s at batch 1");
                if (rep == 0) continue;
                prefill.Add(prefillSeconds);
                decode.Add(decodeSeconds);
            }
            return new LlamaCppResult
            {
                Gguf = o.Gguf ?? "exported by the benchmark (f32)",
                PrefillTokensPerS = prompt.Count / Statistics.Median(prefill),
                DecodeTokensPerS = o.NewTokens / Statistics.Median(decode),
                RawSeconds = new() { ["prefill_batch1"] = prefill.ToArray(), ["decode_batch1"] = decode.ToArray() },
            };
        }
        finally
        {
            if (exported is not null) File.Delete(exported);
        }
    }
}
