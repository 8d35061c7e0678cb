using MixLora.Adapters;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>What each routing strategy selects and how it weights, on random and hand-built cases.</summary>
public class RoutingInvariantTests
{
    [Fact]
    public void TopKPicksTheKMostProbableExpertsWithRenormalisedWeights()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(21);
        var ffn = MoeFixtures.RandomFfn(g);
        var router = MoeFixtures.RandomRouter(8, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 8, TopK = 3 };
        var block = MoeFixtures.Block(router, MoeFixtures.Experts(ffn, 8, g), settings);
        var hidden = randn(new long[] { 4, 5, MoeFixtures.Hidden }, generator: g);
        using var decision = block.Route(hidden);

        var probs = matmul(hidden.reshape(-1, MoeFixtures.Hidden), router.t()).softmax(-1); // independent recomputation
        var (top, idx) = probs.topk(3, dim: -1);
        var expectedSelected = zeros_like(probs).scatter(1, idx, ones_like(top)).gt(0);
        Assert.True(expectedSelected.eq(decision.Selected).all().item<bool>(), "selected experts differ from top-3 of softmax");
        Assert.Equal(3L, decision.Selected.sum([1L]).min().item<long>());
        Assert.Equal(3L, decision.Selected.sum([1L]).max().item<long>());
        TensorAssert.Close(ones(20), decision.Weights.sum([1L]), 1e-6, "weights per token");
        var expectedWeights = zeros_like(probs).scatter(1, idx, top / top.sum(-1, keepdim: true));
        TensorAssert.Close(expectedWeights, decision.Weights, 1e-6, "renormalised weights");
    }

    /// <summary>A router that returns log p for hidden = log p (identity weight), so softmax gives p back.</summary>
    private static (MixLoraFeedForward Block, Tensor Hidden) Hand(double[][] probabilities, MoeSettings settings)
    {
        var g = new Generator(1);
        int e = probabilities[0].Length;
        var ffn = MoeFixtures.RandomFfn(g, hidden: e, intermediate: 6);
        var hidden = tensor(probabilities.SelectMany(p => p.Select(v => (float)Math.Log(v))).ToArray())
            .reshape(1, probabilities.Length, e);
        return (new MixLoraFeedForward(0, eye(e), MoeFixtures.Experts(ffn, e, g), settings, "silu"), hidden);
    }

    [Fact]
    public void DynamicSelectsUpToAndIncludingTheExpertCrossingTopP()
    {
        using var scope = NewDisposeScope();
        double[][] p =
        [
            [0.05, 0.5, 0.15, 0.3],   // cumsum 0.5, 0.8 > 0.7: experts 1 and 3
            [0.02, 0.03, 0.9, 0.05],  // 0.9 > 0.7 at once: expert 2 alone
            [0.25, 0.25, 0.25, 0.25], // 0.25, 0.5, 0.75 > 0.7: three experts
        ];
        var settings = new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = 4, TopP = 0.7 };
        var (block, hidden) = Hand(p, settings);
        using var decision = block.Route(hidden);
        var selected = decision.Selected.to(ScalarType.Int64).data<long>().ToArray();
        Assert.Equal([0L, 1, 0, 1], selected[..4]);
        Assert.Equal([0L, 0, 1, 0], selected[4..8]);
        Assert.Equal(3L, selected[8..].Sum());
        // No renormalisation: the weights are the raw probabilities of the selected experts.
        var weights = decision.Weights.data<float>().ToArray();
        Assert.Equal([0f, 0.5f, 0f, 0.3f], weights[..4].Select(w => MathF.Round(w, 5)));
        Assert.Equal([0f, 0f, 0.9f, 0f], weights[4..8].Select(w => MathF.Round(w, 5)));
        Assert.Equal(0.75, weights[8..].Sum(), 5);
    }

    [Fact]
    public void DynamicTemperatureDividesTheProbabilities()
    {
        using var scope = NewDisposeScope();
        double[][] p = [[0.5, 0.3, 0.15, 0.05]];
        // QUIRK: probabilities / 2 = 0.25, 0.15, 0.075, 0.025 never cross 0.7, so every expert is used, weighted p / 2.
        var settings = new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = 4, TopP = 0.7, Temperature = 2 };
        var (block, hidden) = Hand(p, settings);
        using var decision = block.Route(hidden);
        Assert.Equal(4L, decision.Selected.sum().item<long>());
        Assert.Equal([0.25f, 0.15f, 0.075f, 0.025f], decision.Weights.data<float>().ToArray().Select(w => MathF.Round(w, 5)));
    }

    [Fact]
    public void DynamicAlwaysSelectsAtLeastOneExpert()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(4);
        var ffn = MoeFixtures.RandomFfn(g);
        // A tiny top_p: only the threshold-crossing (most probable) expert survives.
        var settings = new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = 5, TopP = 1e-6 };
        var block = MoeFixtures.Block(MoeFixtures.RandomRouter(5, g), MoeFixtures.Experts(ffn, 5, g), settings);
        using var decision = block.Route(randn(new long[] { 3, 4, MoeFixtures.Hidden }, generator: g));
        Assert.True(decision.Selected.sum([1L]).eq(1).all().item<bool>());
        Assert.True(decision.Selected.eq(nn.functional.one_hot(decision.Probabilities.argmax(-1), 5).gt(0)).all().item<bool>());
    }

    /// <summary>Switch over 2 sequences of 5 tokens, E = 3, capacity 3: sequence 0 sends all tokens to expert 1, sequence 1 alternates 1, 0.</summary>
    private static (MixLoraFeedForward Block, Tensor Hidden, MixLora.Models.FeedForward Ffn) SwitchCase(double ffnDropout = 0)
    {
        var g = new Generator(9);
        var ffn = MoeFixtures.RandomFfn(g, hidden: 3, intermediate: 5);
        var experts = MoeFixtures.Experts(ffn, 3, g);
        var settings = new MoeSettings
        {
            Strategy = RoutingStrategy.Switch, NumExperts = 3, ExpertCapacity = 3, JitterNoise = 0, FfnDropout = ffnDropout,
        };
        var block = new MixLoraFeedForward(0, eye(3), experts, settings, "silu", new Generator(2));
        int[] seq1 = [1, 0, 1, 0, 1];
        var hidden = zeros(2, 5, 3);
        for (int t = 0; t < 5; t++)
        {
            hidden[0, t, 1] = tensor(3f);
            hidden[1, t, seq1[t]] = tensor(3f);
        }
        hidden += randn(new long[] { 2, 5, 3 }, generator: g) * 0.1;
        return (block, hidden, ffn);
    }

    [Fact]
    public void SwitchCapacityDropsLaterTokensOfTheSameSequenceAndExpert()
    {
        using var scope = NewDisposeScope();
        var (block, hidden, ffn) = SwitchCase();
        using var decision = block.Route(hidden);
        Assert.Equal([false, false, false, true, true, false, false, false, false, false], decision.Dropped.data<bool>().ToArray());

        var (output, _) = block.Forward(hidden, ffn, training: false);
        var x = hidden.reshape(-1, 3);
        var routerProb = decision.Probabilities.max(-1).values.unsqueeze(1);      // [N, 1]
        var choice = decision.Probabilities.argmax(-1).data<long>().ToArray();
        var expected = zeros_like(x);
        for (int n = 0; n < 10; n++)
        {
            var row = x[n].unsqueeze(0);
            // Kept tokens: router_prob × expert FFN; dropped tokens: router_prob × input (spec §1.8 steps 6–7).
            var next = decision.Dropped[n].item<bool>() ? row : MoeFixtures.DenseExpert(ffn, block.Experts[(int)choice[n]], row);
            expected[n] = (routerProb[n] * next).squeeze(0);
        }
        TensorAssert.Close(expected.reshape(2, 5, 3), output, 1e-5, "switch output");
        // Inference returns the real output, not the reference's identity (DEFECT §1.8).
        Assert.True(TensorAssert.MaxAbsDiff(hidden, output) > 1e-2);
        // Training without jitter or dropout computes the same.
        TensorAssert.Close(output, block.Forward(hidden, ffn, training: true).Hidden, 1e-6, "switch training output");
    }

    [Fact]
    public void SwitchFfnDropoutOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        var (block, hidden, ffn) = SwitchCase(ffnDropout: 0.5);
        var eval = block.Forward(hidden, ffn, training: false).Hidden;
        var train = block.Forward(hidden, ffn, training: true).Hidden;
        var zeroed = train.eq(0);
        Assert.True(zeroed.any().item<bool>() && !zeroed.all().item<bool>());
        // Inverted dropout: kept elements are scaled by 1 / (1 − p) = 2.
        TensorAssert.Close(where(zeroed, zeros_like(eval), eval * 2), train, 1e-5, "dropout output");
    }

    [Fact]
    public void JitterOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(13);
        var ffn = MoeFixtures.RandomFfn(g);
        var experts = MoeFixtures.Experts(ffn, 4, g);
        var router = MoeFixtures.RandomRouter(4, g);
        var plain = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = 4 };
        var hidden = randn(new long[] { 2, 5, MoeFixtures.Hidden }, generator: g);
        var reference = MoeFixtures.Block(router, experts, plain).Forward(hidden, ffn, training: false);
        var jittered = new MixLoraFeedForward(0, router, experts, plain with { JitterNoise = 0.3 }, "silu", new Generator(5));
        var eval = jittered.Forward(hidden, ffn, training: false);
        TensorAssert.Close(reference.Hidden, eval.Hidden, 0, "eval output");
        TensorAssert.Close(reference.RouterLogits!, eval.RouterLogits!, 0, "eval logits");
        var train = jittered.Forward(hidden, ffn, training: true);
        Assert.True(TensorAssert.MaxAbsDiff(reference.RouterLogits!, train.RouterLogits!) > 1e-3);
    }
}
