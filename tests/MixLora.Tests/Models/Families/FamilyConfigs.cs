using System.Text.Json;
using MixLora.Config;

namespace MixLora.Tests.Models.Families;

/// <summary>
/// Tiny random configurations of each model family with every distinguishing feature active: GQA, a head_dim that is
/// not hidden/heads, a sliding window shorter than the test sequences, soft caps small enough to bite, partial rotary,
/// LongRoPE factors far from 1, non-zero biases.
/// </summary>
public static class FamilyConfigs
{
    public const int Vocab = 600;  // at least the 512 pieces of the test tokenizer
    public const int Window = 5;

    public static TheoryData<string> Names => new() { "qwen3", "gemma", "gemma2", "gemma3_text", "llama3.2", "phi3", "phi" };

    /// <summary>Phi-3's LongRoPE switch point: the 12-token test sequences use the short factors, <see cref="LongSequence"/> the long ones.</summary>
    public const int Phi3OriginalContext = 16;

    /// <summary>Token count of the sequences that go past <see cref="Phi3OriginalContext"/>.</summary>
    public const int LongSequence = 20;

    public static ModelConfig Get(string name) => name switch
    {
        "qwen3" => Base("qwen3") with
        {
            HeadDimOverride = 24, TieWordEmbeddings = false, UseSlidingWindow = true, MaxWindowLayers = 1, SlidingWindow = Window,
        },
        "gemma" => Base("gemma") with { HeadDimOverride = 24, HiddenAct = "gelu", HiddenActivation = "gelu_pytorch_tanh" },
        "gemma2" => Base("gemma2") with
        {
            HeadDimOverride = 24, QueryPreAttnScalar = 20, SlidingWindow = Window,
            AttnLogitSoftcapping = Number(0.5), FinalLogitSoftcapping = Number(0.3),
        },
        "gemma3_text" => Base("gemma3_text") with
        {
            HeadDimOverride = 24, QueryPreAttnScalar = 20, SlidingWindow = Window, SlidingWindowPattern = 2,
            RopeTheta = 50_000, RopeLocalBaseFreq = 500,
            RopeScaling = new RopeScalingConfig { RopeType = "linear", Factor = 4 },
            AttnLogitSoftcapping = Number(0.5),
        },
        // Llama 3.2: tied head, llama3 rope scaling.
        "llama3.2" => Base("llama") with
        {
            TieWordEmbeddings = true,
            RopeScaling = new RopeScalingConfig { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 16 },
        },
        // Phi-3 / Phi-4-mini: fused projections, half the head rotated, LongRoPE with factors far from 1 (6 frequencies).
        "phi3" => Base("phi3") with
        {
            HeadDimOverride = 24, PartialRotaryFactor = 0.5, SlidingWindow = Window, TieWordEmbeddings = false,
            OriginalMaxPositionEmbeddings = Phi3OriginalContext, RopeTheta = 10_000,
            RopeScaling = new RopeScalingConfig { Type = "longrope", ShortFactor = [1, 1.5, 2, 3, 5, 8], LongFactor = [1, 2, 4, 8, 16, 40] },
        },
        // Phi-2: LayerNorm with bias, parallel block, 8 of 16 head dimensions rotated, gelu_new, biases everywhere.
        "phi" => Base("phi") with
        {
            RmsNormEps = null, LayerNormEps = 1e-5, HiddenAct = "gelu_new", PartialRotaryFactor = 0.5, TieWordEmbeddings = false,
        },
        _ => throw new ArgumentException(name),
    };

    private static ModelConfig Base(string type) => new()
    {
        ModelType = type,
        HiddenSize = 64,
        IntermediateSize = 80,
        NumHiddenLayers = 3,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = Vocab,
        MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-6,
        BosTokenId = Number(1),
        EosTokenId = Number(2),
    };

    public static JsonElement Number(double value) => JsonDocument.Parse(value.ToString(System.Globalization.CultureInfo.InvariantCulture)).RootElement.Clone();
}
