using MixLora.Benchmarks.Decode;
using MixLora.Benchmarks.Harness;
using MixLora.Benchmarks.TrainStep;

namespace MixLora.Tests.Benchmarks;

/// <summary>The decode benchmark's <c>--family phi3</c>: the shape with fused projections and adapters on Phi-3's names.</summary>
public class DecodeFamilyTests
{
    [Fact]
    public void Phi3BuildsTheShapeWithFusedProjectionsAndItsAdapters()
    {
        var options = DecodeOptions.Parse(["--tiny", "--family", "phi3", "--no-llama-cpp"]);
        Assert.Equal("phi3", options.Family);
        using var models = new DecodeModels(options.Shape, options.Family);
        Assert.Equal("phi3", models.Model.Config.ModelType);
        Assert.NotNull(models.Model.Layers[0].SelfAttention.QkvProj);
        var mixLora = models.Configurations.First(c => c.Name == "mixlora").Adapter!;
        Assert.Contains(mixLora.NamedTensors, t => t.Key == "mixlora.layers.0.mlp.gate_up_proj.experts.7.lora_B.weight");
        Assert.Contains(models.Configurations.First(c => c.Name == "lora").Adapter!.NamedTensors,
            t => t.Key == "base_model.model.model.layers.1.self_attn.qkv_proj.lora_A.weight");
        // Gemma 3 at the same sizes: head_dim and the score scale hidden/heads, five local layers then a global one.
        var gemma = TrainStepShape.Full.ModelConfig("gemma3_text");
        Assert.Equal((64, 1 / 8.0, true), (gemma.HeadDim, gemma.AttentionScale, gemma.TiedHead));
        Assert.Equal([4096, 4096, 4096, 4096, 4096, null, 4096, 4096], gemma.LayerWindows);
        Assert.Contains("--family must be llama, phi3, gemma3_text or phi", Assert.Throws<UsageException>(() => DecodeOptions.Parse(["--tiny", "--family", "gemma"])).Message);
    }
}
