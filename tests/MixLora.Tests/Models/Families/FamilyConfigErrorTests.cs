using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Models.Families;

/// <summary>Family keys: HF defaults where a key is absent, and one clear error naming the key and value for what we do not run.</summary>
public class FamilyConfigErrorTests
{
    private static ModelConfig Load(string type, string extra)
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, $"{{\"model_type\": \"{type}\", \"hidden_size\": 64, \"intermediate_size\": 80, \"num_hidden_layers\": 2, " +
                                $"\"num_attention_heads\": 4, \"vocab_size\": 600{extra}}}");
        return ModelConfig.Load(path);
    }

    [Theory]
    [InlineData("qwen3", ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling type \"yarn\"")]
    [InlineData("gemma2", ", \"attn_logit_softcapping\": \"fifty\"", "attn_logit_softcapping must be a positive number or null, got \"fifty\"")]
    [InlineData("gemma3_text", ", \"layer_types\": [\"sliding_attention\", \"chunked_attention\"]", "layer_types entry \"chunked_attention\"")]
    [InlineData("gemma3_text", ", \"layer_types\": [\"full_attention\"]", "layer_types has 1 entries")]
    [InlineData("gemma", ", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}", "rope_scaling is not supported for model_type \"gemma\"")]
    [InlineData("gemma", ", \"hidden_activation\": \"gelu_fast\"", "hidden_activation \"gelu_fast\" is not supported")]
    [InlineData("phi4", "", "model_type \"phi4\" is not supported")]
    [InlineData("llama", ", \"partial_rotary_factor\": 0.5", "partial_rotary_factor 0.5 is not supported for model_type \"llama\"")]
    public void UnsupportedValuesAreNamed(string type, string extra, string expected)
    {
        var error = Assert.Throws<InvalidFileException>(() => Load(type, extra));
        Assert.Contains(expected, error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void AbsentKeysTakeTheFamilyDefaults()
    {
        var gemma2 = Load("gemma2", "");
        Assert.Equal((256, 50.0, 30.0, true), (gemma2.HeadDim, gemma2.AttentionSoftcap, gemma2.FinalSoftcap, gemma2.TiedHead));
        Assert.Equal(1 / Math.Sqrt(224), gemma2.AttentionScale, 12);
        Assert.Equal([4096, null], new[] { gemma2.SlidingWindowForLayer(0), gemma2.SlidingWindowForLayer(1) });
        Assert.Equal("gelu_pytorch_tanh", gemma2.Activation);
        var capsOff = Load("gemma2", ", \"attn_logit_softcapping\": null, \"final_logit_softcapping\": null");
        Assert.Equal((null, null), (capsOff.AttentionSoftcap, capsOff.FinalSoftcap));
        var gemma3 = Load("gemma3_text", "");
        Assert.Equal((1_000_000.0, 10_000.0, (double?)null), (gemma3.RopeBase, gemma3.LocalRopeBase, gemma3.AttentionSoftcap));
        var qwen3 = Load("qwen3", "");
        Assert.Equal((128, false, (int?)null), (qwen3.HeadDim, qwen3.TiedHead, qwen3.SlidingWindowForLayer(1)));
    }
}
