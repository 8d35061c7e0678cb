using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;
using MixLora.Config;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The benchmark's model and batch shape: the PyTorch peer's two shapes, plus a tiny one for smoke tests.</summary>
public sealed record TrainStepShape(string Name, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab, int Seq, int Batch)
{
    public static TrainStepShape Full { get; } = new("full", 1024, 2816, 8, 16, 4, 32000, 256, 4);
    public static TrainStepShape Quick { get; } = new("quick", 512, 1408, 4, 8, 4, 32000, 128, 2);
    /// <summary>Not a peer shape: a few seconds per run, for smoke tests of the harness only (hidden option --tiny).</summary>
    public static TrainStepShape Tiny { get; } = new("tiny", 64, 176, 2, 4, 2, 512, 32, 2);

    public int Tokens => Batch * Seq;

    /// <summary>The option that selects this shape, passed on to worker processes.</summary>
    public string Flag => "--" + Name;

    /// <summary>The shape chosen by --quick, --full or --tiny (default: full, as the peer); more than one is an error.</summary>
    public static TrainStepShape FromOptions(OptionReader options)
    {
        var chosen = new[] { Quick, Full, Tiny }.Where(s => options.Flag(s.Flag)).ToList();
        if (chosen.Count > 1) throw options.Error($"choose one shape, not {string.Join(" and ", chosen.Select(s => s.Flag))}");
        return chosen.Count == 1 ? chosen[0] : Full;
    }

    /// <summary>The shape with the peer's key names.</summary>
    public JsonObject ToJson() => new()
    {
        ["hidden"] = Hidden, ["intermediate"] = Intermediate, ["layers"] = Layers, ["heads"] = Heads,
        ["kv_heads"] = KvHeads, ["vocab"] = Vocab, ["seq"] = Seq, ["batch"] = Batch,
    };

    /// <summary>
    /// The shape as a model of <paramref name="family"/> (random weights come from the benchmark): llama with an untied
    /// LM head; phi3, the same sizes with fused projections; gemma3_text, the same sizes with Gemma 3's layers (five
    /// local, one global), head_dim and query_pre_attn_scalar hidden/heads, and its tied head (as llama.cpp's gemma3
    /// graph needs); phi, the same sizes with Phi-2's layout (LayerNorm, parallel block, half of each head rotated,
    /// biases, gelu_new).
    /// </summary>
    public ModelConfig ModelConfig(string family = "llama")
    {
        bool gemma = family == "gemma3_text";
        var config = new ModelConfig
        {
            ModelType = family, HiddenSize = Hidden, IntermediateSize = Intermediate, NumHiddenLayers = Layers,
            NumAttentionHeads = Heads, NumKeyValueHeads = KvHeads, VocabSize = Vocab, MaxPositionEmbeddings = Math.Max(2048, Seq),
            RmsNormEps = 1e-5, TieWordEmbeddings = gemma,
            HeadDimOverride = gemma ? Hidden / Heads : null, QueryPreAttnScalar = gemma ? Hidden / Heads : null,
        };
        config.Validate("(benchmark config)");
        return config;
    }
}
