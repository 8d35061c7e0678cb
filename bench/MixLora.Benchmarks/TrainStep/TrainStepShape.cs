using MixLora.Config;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The benchmark's model and batch shape; the same two shapes as the PyTorch peer's.</summary>
public sealed record TrainStepShape(string Name, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab, int Seq, int Batch)
{
    public static TrainStepShape Full { get; } = new("full", 1024, 2816, 8, 16, 4, 32000, 256, 4);
    public static TrainStepShape Quick { get; } = new("quick", 512, 1408, 4, 8, 4, 32000, 128, 2);

    public int Tokens => Batch * Seq;

    /// <summary>A llama config of this shape with an untied LM head (random weights come from the benchmark).</summary>
    public ModelConfig ModelConfig()
    {
        var config = new ModelConfig
        {
            ModelType = "llama", HiddenSize = Hidden, IntermediateSize = Intermediate, NumHiddenLayers = Layers,
            NumAttentionHeads = Heads, NumKeyValueHeads = KvHeads, VocabSize = Vocab, MaxPositionEmbeddings = Math.Max(2048, Seq),
            RmsNormEps = 1e-5, TieWordEmbeddings = false,
        };
        config.Validate("(benchmark config)");
        return config;
    }
}
