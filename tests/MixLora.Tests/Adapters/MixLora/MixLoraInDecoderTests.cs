using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>The block plugged into a real decoder through IFeedForwardReplacement (DecoderContext path).</summary>
public class MixLoraInDecoderTests
{
    private static List<MixLoraFeedForward> Attach(CausalLM model, MoeSettings settings, bool freshB, ulong seed)
    {
        var g = new Generator(seed);
        var blocks = new List<MixLoraFeedForward>();
        foreach (var (layer, index) in model.Layers.Select((l, i) => (l, i)))
        {
            var experts = MoeFixtures.Experts(layer.DenseMlp, settings.NumExperts, g, freshB: freshB);
            var router = randn(new long[] { settings.NumExperts, model.Config.HiddenSize }, generator: g);
            var block = new MixLoraFeedForward(index, router, experts, settings, model.Config.Activation);
            layer.AddMlpReplacement(block, block);
            blocks.Add(block);
        }
        return blocks;
    }

    [Fact]
    public void FreshTopKAdapterLeavesTheModelUnchanged()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        var ids = tensor(new long[] { 3, 17, 5, 60, 2, 9, 41, 8 }).reshape(2, 4);
        using var baseOutput = model.Forward(ids);
        Attach(model, new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4 }, freshB: true, seed: 1);
        using var adapted = model.Forward(ids);
        TensorAssert.Close(baseOutput.Logits, adapted.Logits, 1e-5, "logits");
        Assert.Equal(model.Layers.Count, adapted.RouterLogits.Count);
        Assert.All(adapted.RouterLogits, r => Assert.Equal([8L, 4], r.shape));
    }

    [Fact]
    public void StatisticsThroughTheDecoderSkipPaddingFromTheAttentionMask()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4 };
        var blocks = Attach(model, settings, freshB: false, seed: 2);
        var stats = new RouterStatistics(model.Layers.Count, 4);
        foreach (var block in blocks) block.Statistics = stats;
        var ids = tensor(new long[] { 3, 17, 5, 60, 0, 0, 41, 8, 12, 7, 7, 1 }).reshape(2, 6);
        var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1 }).reshape(2, 6);
        using var output = model.Forward(ids, mask);
        var snapshot = stats.Snapshot();
        Assert.All(snapshot.Tokens, t => Assert.Equal(10L, t));
        Assert.All(snapshot.AssignmentCounts, row => Assert.Equal(20L, row.Sum()));           // K = 2 slots per real token
    }
}
