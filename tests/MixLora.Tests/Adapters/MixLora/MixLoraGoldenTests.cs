using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>The MoE block and the load-balancing loss against the reference outputs in assets/golden/mixlora-stories260K.</summary>
public class MixLoraGoldenTests
{
    private const int UnitExperts = 8;

    private static (FeedForward Ffn, List<ExpertLoras> Experts) UnitLayer()
    {
        AdaptableLinear Linear(string name) => new(GoldenData.Get($"unit.base.{name}").clone(), null);
        var ffn = new FeedForward(Linear("gate_proj"), Linear("up_proj"), Linear("down_proj"), "silu");
        var settings = new LoraSettings { Rank = 8, Alpha = 16, Dropout = 0.05 };
        LoraLinear Lora(int e, string proj, AdaptableLinear baseProj)
        {
            var lora = new LoraLinear(baseProj.Weight, settings);
            using (no_grad())
            {
                lora.LoraA.copy_(GoldenData.Get($"unit.experts.{e}.{proj}.lora_A"));
                lora.LoraB.copy_(GoldenData.Get($"unit.experts.{e}.{proj}.lora_B"));
            }
            lora.eval();
            return lora;
        }
        var experts = Enumerable.Range(0, UnitExperts).Select(e => new ExpertLoras
        {
            GateProj = Lora(e, "gate_proj", ffn.GateProj!),
            UpProj = Lora(e, "up_proj", ffn.UpProj),
            DownProj = Lora(e, "down_proj", ffn.DownProj),
        }).ToList();
        return (ffn, experts);
    }

    [Theory]
    [InlineData(ExpertPath.Vanilla)]
    [InlineData(ExpertPath.Shared)]
    [InlineData(ExpertPath.Fused)]
    [InlineData(ExpertPath.Auto)]
    public void UnitLayerMatchesReference(ExpertPath path)
    {
        using var scope = NewDisposeScope();
        var (ffn, experts) = UnitLayer();
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = UnitExperts, TopK = 2, Path = path };
        using var block = new MixLoraFeedForward(0, GoldenData.Get("unit.gate"), experts, settings, "silu");
        block.eval();
        var (output, logits) = block.Forward(GoldenData.Get("unit.input"), ffn, training: false);

        TensorAssert.Close(GoldenData.Get("unit.router_logits"), logits!, 1e-4, "router logits");
        var expected = GoldenData.Get("unit.output");
        double scale = expected.abs().max().item<float>();
        TensorAssert.Close(expected, output, 1e-4 * scale, $"output ({path})");
    }

    [Fact]
    public void UnitLayerTokensPerExpertMatchReference()
    {
        using var scope = NewDisposeScope();
        var (ffn, experts) = UnitLayer();
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = UnitExperts };
        using var block = new MixLoraFeedForward(0, GoldenData.Get("unit.gate"), experts, settings, "silu");
        using var decision = block.Route(GoldenData.Get("unit.input"));
        var counts = decision.Selected.sum([0]).data<long>().ToArray();
        Assert.Equal([5L, 3, 3, 4, 2, 6, 3, 6], counts); // golden.json info.unit_tokens_per_expert
    }

    [Theory]
    [InlineData("router_logits_0", "aux_loss")]
    [InlineData("router_logits_2", "aux_loss_2")]
    public void LoadBalancingMatchesReference(string logitsName, string lossName)
    {
        using var scope = NewDisposeScope();
        var logits = GoldenData.Get(logitsName);
        long t = logits.shape[0] / 5;
        var perLayer = Enumerable.Range(0, 5).Select(l => logits.narrow(0, l * t, t)).ToList();
        var loss = RouterLoss.LoadBalancing(perLayer, numExperts: 4, topK: 2, attentionMask: null);
        Assert.Equal(GoldenData.Get(lossName).item<float>(), loss.item<float>(), 1e-5);
    }

    [Fact]
    public void MaskedLoadBalancingMatchesReference()
    {
        using var scope = NewDisposeScope();
        var logits = GoldenData.Get("router_logits_padded");                             // [5·2·16, 4]
        var perLayer = Enumerable.Range(0, 5).Select(l => logits.narrow(0, l * 32, 32)).ToList();
        var mask = GoldenData.Get("padded_attention_mask");
        var masked = RouterLoss.LoadBalancing(perLayer, 4, 2, mask);
        Assert.Equal(GoldenData.Get("aux_loss_masked").item<float>(), masked.item<float>(), 1e-5);
        // The padded rows hold garbage routing: ignoring the mask must change the value.
        var unmasked = RouterLoss.LoadBalancing(perLayer, 4, 2, null);
        Assert.True(Math.Abs(unmasked.item<float>() - masked.item<float>()) > 1e-4);
    }
}
