using MixLora.Config;
using MixLora.Models;

namespace MixLora.Tests.Support;

/// <summary>Small random LLaMA-family models built in code (run on CPU in well under a second).</summary>
public static class TinyModels
{
    public static ModelConfig Config(string family = "llama", bool gqa = true, bool tied = false, bool llama3Rope = false,
        bool bias = false, int? slidingWindow = null, int hidden = 32, int layers = 2, int vocab = 97) => new()
    {
        ModelType = family,
        HiddenSize = hidden,
        IntermediateSize = 3 * hidden - 5,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = gqa ? 2 : 4,
        VocabSize = vocab,
        MaxPositionEmbeddings = 128,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        RopeScaling = llama3Rope
            ? new RopeScalingConfig { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 16 }
            : null,
        TieWordEmbeddings = tied,
        AttentionBias = bias && family == "llama",
        MlpBias = bias && family == "llama",
        SlidingWindow = slidingWindow,
        BosTokenId = System.Text.Json.JsonDocument.Parse("1").RootElement.Clone(),
        EosTokenId = System.Text.Json.JsonDocument.Parse("2").RootElement.Clone(),
    };

    public static CausalLM Create(ModelConfig config, long seed = 0)
    {
        config.Validate("(test config)");
        var model = CausalLM.Create(config, new RandomWeightSource(seed));
        model.eval();
        return model;
    }
}
