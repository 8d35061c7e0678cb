using MixLora.Adapters;
using MixLora.IO;
using MixLora.Tests.Support;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>The official MixLoRA implementation's outputs for the golden adapter on stories260K (golden.json).</summary>
public class AdapterGoldenTests
{
    private static string AdapterDir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    /// <summary>The golden adapter folder with only one weight format.</summary>
    private static TempDir AdapterWithOnly(string weightsFile)
    {
        var dir = new TempDir();
        File.Copy(Path.Combine(AdapterDir, "adapter_config.json"), dir.File("adapter_config.json"));
        File.Copy(Path.Combine(AdapterDir, weightsFile), dir.File(weightsFile));
        return dir;
    }

    [Theory]
    [InlineData("adapter_model.bin", 0)]
    [InlineData("adapter_model.bin", 1)]
    [InlineData("adapter_model.bin", 2)]
    [InlineData("adapter_model.safetensors", 0)]
    [InlineData("adapter_model.safetensors", 2)]
    public void AdapterLogitsAndRouterLogitsMatchReference(string weightsFile, int k)
    {
        using var dir = AdapterWithOnly(weightsFile);
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Load(model, dir.Path);
        using var _ = no_grad();
        using var ids = GoldenData.Get($"input_ids_{k}").unsqueeze(0);
        using var output = model.Forward(ids);
        TensorAssert.Close(GoldenData.Get($"adapter_logits_{k}"), output.Logits[0], 1e-4, $"adapter_logits_{k}");
        Assert.Equal(5, output.RouterLogits.Count);
        using var router = cat(output.RouterLogits.ToArray(), 0);                     // layer-major [5*T, E]
        TensorAssert.Close(GoldenData.Get($"router_logits_{k}"), router, 1e-4, $"router_logits_{k}");
    }

    [Fact]
    public void AuxLossesMatchReference()
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Load(model, AdapterDir);
        using var _ = no_grad();
        foreach (var (k, scalar) in new[] { (0, "aux_loss"), (2, "aux_loss_2") })
        {
            using var output = model.Forward(GoldenData.Get($"input_ids_{k}").unsqueeze(0));
            using var aux = RouterLoss.LoadBalancing(output.RouterLogits, 4, 2, null);
            Assert.Equal(GoldenData.Get(scalar).item<float>(), aux.item<float>(), 1e-5);
        }
        // Padded batch: right padding with pad id 0; the aux loss averages over real tokens only.
        using var padded = model.Forward(GoldenData.Get("padded_input_ids"), attentionMask: GoldenData.Get("padded_attention_mask"));
        using var masked = RouterLoss.LoadBalancing(padded.RouterLogits, 4, 2, GoldenData.Get("padded_attention_mask"));
        Assert.Equal(GoldenData.Get("aux_loss_masked").item<float>(), masked.item<float>(), 1e-5);
    }

    [Fact]
    public void GradientsOfLmLossPlusAuxMatchReference()
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Load(model, AdapterDir);
        using var ids = GoldenData.Get("input_ids_2").unsqueeze(0);
        using var output = model.Forward(ids);
        using var lm = CausalLmLoss.Compute(output.Logits, ids);
        using var aux = RouterLoss.LoadBalancing(output.RouterLogits, 4, 2, null);
        using var total = lm + 0.01 * aux;
        Assert.Equal(GoldenData.Get("lm_loss_0").item<float>(), lm.item<float>(), 1e-5);
        Assert.Equal(GoldenData.Get("total_loss").item<float>(), total.item<float>(), 1e-5);
        total.backward();
        var named = adapter.NamedTensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var name in new[]
                 {
                     "mixlora.layers.0.self_attn.q_proj.lora_A.weight", "mixlora.layers.0.self_attn.q_proj.lora_B.weight",
                     "mixlora.layers.0.mlp.moe_gate.weight", "mixlora.layers.0.mlp.gate_proj.experts.0.lora_A.weight",
                     "mixlora.layers.0.mlp.gate_proj.experts.0.lora_B.weight", "mixlora.layers.4.mlp.down_proj.experts.3.lora_B.weight",
                 })
        {
            var expected = GoldenData.Get("grad:" + name);
            var grad = named[name].grad ?? throw new Xunit.Sdk.XunitException($"{name} has no gradient");
            double scale = expected.abs().max().item<float>();
            TensorAssert.Close(expected, grad, 1e-4 * scale, "grad " + name);
        }
    }

    [Fact]
    public void GreedyDecodingWithTheAdapterMatchesReference()
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Load(model, AdapterDir);
        var expected = GoldenData.Ids("greedy_ids").Select(i => (int)i).ToArray();
        var options = new MixLora.Generation.SamplingOptions { Temperature = 0, RepetitionPenalty = 1, MaxNewTokens = 40 };
        var generated = new MixLora.Generation.TokenGenerator(model).Generate([1], options, []).ToArray();
        Assert.Equal(expected.Skip(1).ToArray(), generated);
    }

    [Fact]
    public void DetachingRestoresTheBaseModel()
    {
        using var model = Stories260K.LoadModel();
        using var _ = no_grad();
        using var ids = GoldenData.Get("input_ids_1").unsqueeze(0);
        using (Adapter.Load(model, AdapterDir))
        {
            using var adapted = model.Forward(ids);
            Assert.True(TensorAssert.MaxAbsDiff(adapted.Logits[0], GoldenData.Get("base_logits_1")) > 0.1);
        }
        using var restored = model.Forward(ids);
        TensorAssert.Close(GoldenData.Get("base_logits_1"), restored.Logits[0], 1e-4, "base logits after detach");
    }
}
