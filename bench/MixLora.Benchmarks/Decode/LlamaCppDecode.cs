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
/// llama.cpp (LLamaSharp, CPU, f32 KV cache, no flash attention, the same thread count) on the same prompt ids and
/// number of new tokens as our batch-1 runs, measured once per repetition between ours, so that drift on the machine
/// hits both engines alike.
/// </summary>
public sealed class LlamaCppDecode : IDisposable
{
    private readonly string? _exported;
    private readonly string _source;
    private readonly LlamaCpp _llama;
    private readonly List<double> _prefill = [], _decode = [];

    public LlamaCppDecode(DecodeOptions o, DecodeModels models, int promptTokens)
    {
        _source = o.Gguf ?? "exported by the benchmark (f32)";
        string gguf = o.Gguf ?? (_exported = Path.Combine(Path.GetTempPath(), $"mixlora-decode-{Guid.NewGuid():N}.gguf"));
        if (_exported is not null) LlamaCpp.ExportF32(models.Model, models.TokenizerDir, _exported);
        _llama = new LlamaCpp(gguf, contextSize: (uint)(promptTokens + o.NewTokens + 2), threads: o.Threads);
    }

    /// <summary>One greedy run: newTokens + 1 tokens, the first with the prefill, then newTokens decode steps as in our runs.</summary>
    public void Measure(IReadOnlyList<int> prompt, int newTokens, bool record)
    {
        var (_, prefillSeconds, decodeSeconds) = _llama.TimedGreedy(prompt, newTokens + 1);
        Console.WriteLine($"  [llama.cpp] {(record ? "run" : "warm-up")}: prefill {prefillSeconds * 1e3:F1} ms, decode {newTokens / decodeSeconds:F1} tok/s at batch 1");
        if (!record) return;
        _prefill.Add(prefillSeconds);
        _decode.Add(decodeSeconds);
    }

    public LlamaCppResult Result(int promptTokens, int newTokens) => new()
    {
        Gguf = _source,
        PrefillTokensPerS = promptTokens / Statistics.Median(_prefill),
        DecodeTokensPerS = newTokens / Statistics.Median(_decode),
        RawSeconds = new() { ["prefill_batch1"] = _prefill.ToArray(), ["decode_batch1"] = _decode.ToArray() },
    };

    public void Dispose()
    {
        _llama.Dispose();
        if (_exported is not null) File.Delete(_exported);
    }
}
