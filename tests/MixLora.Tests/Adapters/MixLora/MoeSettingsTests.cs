using MixLora.Adapters;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>Strategy names, settings validation and constructor checks.</summary>
public class MoeSettingsTests
{
    [Theory]
    [InlineData("mixlora", RoutingStrategy.TopK)]
    [InlineData("mixlora-switch", RoutingStrategy.Switch)]
    [InlineData("mixlora-dynamic", RoutingStrategy.Dynamic)]
    public void StrategyNamesRoundTrip(string name, RoutingStrategy strategy)
    {
        Assert.Equal(strategy, RoutingStrategyNames.Parse(name));
        Assert.Equal(name, RoutingStrategyNames.Format(strategy));
    }

    [Fact]
    public void UnknownStrategyNameIsAUserError()
    {
        var ex = Assert.Throws<MixLoraException>(() => RoutingStrategyNames.Parse("mixtral"));
        Assert.Contains("\"mixtral\"", ex.Message);
        Assert.Contains("mixlora-dynamic", ex.Message);
        Assert.False(RoutingStrategyNames.TryParse("loramoe", out _));
    }

    [Fact]
    public void DefaultsAreTheReferenceDefaults()
    {
        var topK = MoeSettings.DefaultsFor(RoutingStrategy.TopK, 8);
        Assert.Equal((2, 0.8, 0.0, 32, 0.0, 0.0, ExpertPath.Auto),
            (topK.TopK, topK.TopP, topK.Temperature, topK.ExpertCapacity, topK.JitterNoise, topK.FfnDropout, topK.Path));
        Assert.Equal(0.01, MoeSettings.DefaultsFor(RoutingStrategy.Switch, 8).JitterNoise);
    }

    public static TheoryData<MoeSettings, string> BadSettings => new()
    {
        { new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 0 }, "num_experts" },
        { new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4, TopK = 5 }, "top_k" },
        { new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = 4, TopP = 0 }, "top_p" },
        { new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = 4, Temperature = -1 }, "temperature" },
        { new MoeSettings { Strategy = RoutingStrategy.Switch, NumExperts = 4, ExpertCapacity = 0 }, "expert_capacity" },
        { new MoeSettings { Strategy = RoutingStrategy.Switch, NumExperts = 4, FfnDropout = 1 }, "ffn_dropout" },
        { new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4, JitterNoise = -0.1 }, "jitter_noise" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void ValidateNamesTheBadKey(MoeSettings settings, string key)
    {
        var ex = Assert.Throws<MixLoraException>(settings.Validate);
        Assert.Contains(key, ex.Message);
    }

    [Fact]
    public void ConstructorChecksRouterShapeAndExpertCount()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(1);
        var ffn = MoeFixtures.RandomFfn(g);
        var experts = MoeFixtures.Experts(ffn, 4, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4 };
        var ex = Assert.Throws<MixLoraException>(() => new MixLoraFeedForward(3, zeros(5, MoeFixtures.Hidden), experts, settings, "silu"));
        Assert.Contains("layer 3: moe_gate", ex.Message);
        Assert.Throws<MixLoraException>(() => new MixLoraFeedForward(0, zeros(4, MoeFixtures.Hidden), experts.Take(3).ToList(), settings, "silu"));
        Assert.Throws<MixLoraException>(() => new MixLoraFeedForward(0, zeros(4, MoeFixtures.Hidden), experts, settings, "tanh"));
        var wrongWidth = new MixLoraFeedForward(0, zeros(4, MoeFixtures.Hidden + 1), experts, settings, "silu");
        Assert.Throws<MixLoraException>(() => wrongWidth.ResolvePath(ffn));
    }

    [Fact]
    public void RouterAndExpertLorasAreRegisteredParameters()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(1);
        var ffn = MoeFixtures.RandomFfn(g);
        var experts = MoeFixtures.Experts(ffn, 2, g, gate: false);
        var router = zeros(2, MoeFixtures.Hidden);
        var block = new MixLoraFeedForward(0, router, experts, new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 2 }, "silu");
        var names = block.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(["moe_gate", "experts.0.up_proj.lora_A", "experts.0.up_proj.lora_B", "experts.0.down_proj.lora_A",
            "experts.0.down_proj.lora_B", "experts.1.up_proj.lora_A", "experts.1.up_proj.lora_B", "experts.1.down_proj.lora_A",
            "experts.1.down_proj.lora_B"], names);
        Assert.True(block.RouterWeight.requires_grad);
        // The router is a copy: training it leaves the caller's tensor alone.
        using (no_grad()) block.RouterWeight.add_(1);
        Assert.Equal(0f, router.abs().max().item<float>());
        // eval() reaches the expert LoRAs (their dropout follows the module mode).
        block.eval();
        Assert.False(experts[1].DownProj!.training);
    }
}
