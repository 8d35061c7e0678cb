using System.Diagnostics;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using System.Text.Json.Nodes;
using MixLora.Export;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.ExportDecode;

/// <summary>
/// A GGUF file run by llama.cpp on the CPU as a reference: f32 KV cache, no flash attention, every position's logits
/// kept, so its numbers compare with our decoder's. Used by the export-decode case and by the GGUF export tests.
/// </summary>
public sealed class LlamaCpp : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    static LlamaCpp()
    {
        // llama.cpp prints its loading log to stderr; only errors are worth seeing in test output.
        if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level == LLamaLogLevel.Error) Console.Error.Write("llama.cpp: " + message);
            });
    }

    public LlamaCpp(string ggufPath, uint contextSize = 512, int threads = 2)
    {
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = contextSize, BatchSize = contextSize, UBatchSize = contextSize, Threads = threads, BatchThreads = threads,
            GpuLayerCount = 0, TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
    }

    /// <summary>Logits [position][vocab] of <paramref name="ids"/> run as one fresh sequence.</summary>
    public float[][] Logits(IReadOnlyList<int> ids)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add(ids[i], i, LLamaSeqId.Zero, logits: true);
        Decode(batch);
        return Enumerable.Range(0, ids.Count).Select(i => _context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> (argmax, first index on ties), one token per decode.</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int newTokens) => TimedGreedy(prompt, newTokens).Tokens;

    /// <summary>
    /// <see cref="Greedy"/> with its times: the prefill (the prompt in one batch, logits of its last position, the first
    /// token's argmax) and the decode steps after it (<paramref name="newTokens"/> − 1 single-token decodes).
    /// </summary>
    public (List<int> Tokens, double PrefillSeconds, double DecodeSeconds) TimedGreedy(IReadOnlyList<int> prompt, int newTokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, logits: i == prompt.Count - 1);
        var generated = new List<int>();
        var clock = Stopwatch.StartNew();
        double prefill = 0;
        for (int position = prompt.Count; generated.Count < newTokens; position++)
        {
            Decode(batch);
            generated.Add(ArgMax(_context.NativeHandle.GetLogitsIth(batch.TokenCount - 1)));
            if (generated.Count == 1)
            {
                prefill = clock.Elapsed.TotalSeconds;
                clock.Restart();
            }
            batch.Clear();
            batch.Add(generated[^1], position, LLamaSeqId.Zero, logits: true);
        }
        return (generated, prefill, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Writes <paramref name="model"/>'s own weights (no adapter) as an f32 GGUF with the vocabulary of
    /// <paramref name="tokenizerDir"/>, for llama.cpp to run the model a benchmark measures.
    /// </summary>
    public static void ExportF32(CausalLM model, string tokenizerDir, string path)
    {
        // The tensors are the model's own parameters: the MergedModel is not disposed, the model still runs.
        var merged = new MergedModel(JsonNode.Parse(model.Config.ToJson())!.AsObject(),
            model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList());
        GgufExporter.Export(merged, tokenizerDir, path, "f32");
    }

    /// <summary>llama.cpp's tokenizer on <paramref name="text"/> (special tokens in the text are plain text).</summary>
    public int[] Tokenize(string text, bool addBos) => _weights.Tokenize(text, addBos, special: false, Encoding.UTF8).Select(t => (int)t).ToArray();

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private void Decode(LLamaBatch batch)
    {
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
