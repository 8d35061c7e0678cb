using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>Vanilla, Shared and Fused expert paths compute the same outputs and gradients.</summary>
public class ExpertPathEquivalenceTests
{
    private const int NumExperts = 6;

    internal sealed record Result(Tensor Output, List<Tensor> Grads);

    /// <summary>Runs one path; the loss is (out ⊙ probe).sum() + the strategy's router loss.</summary>
    internal static Result Run(ExpertPath path, MoeSettings settings, FeedForward ffn, Tensor router, List<ExpertLoras> experts,
        Tensor hidden, Tensor probe)
    {
        var block = MoeFixtures.Block(router, experts, settings with { Path = path }, ffn.ActivationName);
        var trainables = MoeFixtures.Trainables(block);
        foreach (var p in trainables) p.grad?.zero_();
        var (output, logits) = block.Forward(hidden, ffn, training: false);
        var aux = settings.Strategy switch
        {
            RoutingStrategy.TopK => RouterLoss.LoadBalancing([logits!], NumExperts, settings.TopK, null),
            RoutingStrategy.Dynamic => RouterLoss.Dynamic([logits!], NumExperts, settings.TopP, settings.Temperature),
            _ => RouterLoss.Switch([logits!], NumExperts, 0.01, 0.01),
        };
        ((output * probe).sum() + aux).backward();
        var grads = trainables.Select(p => p.grad is null ? zeros_like(p) : p.grad.clone()).ToList();
        return new Result(output.detach(), grads);
    }

    internal static void AssertSame(Result expected, Result actual, string what)
    {
        TensorAssert.Close(expected.Output, actual.Output, 1e-5, $"{what} output");
        Assert.Equal(expected.Grads.Count, actual.Grads.Count);
        for (int i = 0; i < expected.Grads.Count; i++)
        {
            double scale = Math.Max(1.0, expected.Grads[i].abs().max().item<float>());
            TensorAssert.Close(expected.Grads[i], actual.Grads[i], 1e-5 * scale, $"{what} gradient #{i}");
        }
        // The router and at least one LoRA B must actually receive gradient, or the comparison proves little.
        Assert.True(expected.Grads[0].abs().max().item<float>() > 1e-6, $"{what}: router gradient is zero");
    }

    public static TheoryData<RoutingStrategy, bool> Cases => new()
    {
        { RoutingStrategy.TopK, false }, { RoutingStrategy.TopK, true },
        { RoutingStrategy.Dynamic, false }, { RoutingStrategy.Dynamic, true },
        { RoutingStrategy.Switch, false }, { RoutingStrategy.Switch, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PathsAgreeInOutputsAndGradients(RoutingStrategy strategy, bool bias)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)(11 + (int)strategy + (bias ? 100 : 0)));
        var ffn = MoeFixtures.RandomFfn(g, bias);
        var experts = MoeFixtures.Experts(ffn, NumExperts, g);
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        // Switch with capacity 1 over 7 tokens and 6 experts must drop tokens (pigeonhole).
        var settings = new MoeSettings { Strategy = strategy, NumExperts = NumExperts, TopK = 2, TopP = 0.7, ExpertCapacity = 1 };
        var hidden = randn(new long[] { 3, 7, MoeFixtures.Hidden }, generator: g);
        var probe = randn(hidden.shape, generator: g);

        var vanilla = Run(ExpertPath.Vanilla, settings, ffn, router, experts, hidden, probe);
        AssertSame(vanilla, Run(ExpertPath.Shared, settings, ffn, router, experts, hidden, probe), $"{strategy} shared");
        AssertSame(vanilla, Run(ExpertPath.Fused, settings, ffn, router, experts, hidden, probe), $"{strategy} fused");

        // And all of them equal the dense oracle built from the routing decision.
        using var decision = MoeFixtures.Block(router, experts, settings).Route(hidden);
        // The case must exercise what makes the strategies differ: dropped switch tokens, multi-expert dynamic tokens.
        if (strategy == RoutingStrategy.Switch) Assert.True(decision.Dropped.any().item<bool>(), "no switch token was dropped");
        if (strategy == RoutingStrategy.Dynamic)
        {
            var perToken = decision.Selected.sum([1L]);
            Assert.True(perToken.gt(1).any().item<bool>() && perToken.eq(1).any().item<bool>(), "dynamic routing did not vary");
        }
        var x = hidden.reshape(-1, MoeFixtures.Hidden);
        var expected = zeros_like(x);
        for (int e = 0; e < NumExperts; e++)
            expected += decision.Weights.select(1, e).unsqueeze(1) * MoeFixtures.DenseExpert(ffn, experts[e], x);
        expected += decision.Dropped.to(ScalarType.Float32).unsqueeze(1) * decision.Probabilities.max(-1).values.unsqueeze(1) * x;
        TensorAssert.Close(expected.reshape(hidden.shape), vanilla.Output, 1e-5, $"{strategy} vs dense oracle");
    }

    [Fact]
    public void DoraOnDownProjFallsBackToSharedAndMatchesVanilla()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        var ffn = MoeFixtures.RandomFfn(g, bias: true);
        var experts = MoeFixtures.Experts(ffn, NumExperts, g, dora: true);
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = NumExperts };
        Assert.Equal(ExpertPath.Shared, MoeFixtures.Block(router, experts, settings with { Path = ExpertPath.Fused }).ResolvePath(ffn));
        Assert.Equal(ExpertPath.Shared, MoeFixtures.Block(router, experts, settings).ResolvePath(ffn));
        Assert.Equal(ExpertPath.Vanilla, MoeFixtures.Block(router, experts, settings with { Path = ExpertPath.Vanilla }).ResolvePath(ffn));

        var hidden = randn(new long[] { 2, 9, MoeFixtures.Hidden }, generator: g);
        var probe = randn(hidden.shape, generator: g);
        var vanilla = Run(ExpertPath.Vanilla, settings, ffn, router, experts, hidden, probe);
        AssertSame(vanilla, Run(ExpertPath.Fused, settings, ffn, router, experts, hidden, probe), "DoRA fused->shared");
        // The DoRA magnitudes are trained: their gradients are among those compared, and non-zero.
        Assert.Contains(experts, e => e.DownProj!.Magnitude!.grad is { } grad && grad.abs().max().item<float>() > 0);
    }

    [Fact]
    public void DoraOnlyOnGateAndUpKeepsFused()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(8);
        var ffn = MoeFixtures.RandomFfn(g);
        var dora = MoeFixtures.Experts(ffn, NumExperts, g, dora: true, down: false);
        var plain = MoeFixtures.Experts(ffn, NumExperts, g, gate: false, up: false);
        var experts = dora.Zip(plain, (d, p) => new ExpertLoras { GateProj = d.GateProj, UpProj = d.UpProj, DownProj = p.DownProj }).ToList();
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.Dynamic, NumExperts = NumExperts };
        Assert.Equal(ExpertPath.Fused, MoeFixtures.Block(router, experts, settings).ResolvePath(ffn));
        var hidden = randn(new long[] { 2, 5, MoeFixtures.Hidden }, generator: g);
        var probe = randn(hidden.shape, generator: g);
        AssertSame(Run(ExpertPath.Vanilla, settings, ffn, router, experts, hidden, probe),
            Run(ExpertPath.Fused, settings, ffn, router, experts, hidden, probe), "gate/up DoRA fused");
    }

    [Theory]
    [InlineData(ExpertPath.Vanilla)]
    [InlineData(ExpertPath.Shared)]
    [InlineData(ExpertPath.Fused)]
    public void FreshExpertsEqualTheBaseFfn(ExpertPath path)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var ffn = MoeFixtures.RandomFfn(g, bias: true);
        var experts = MoeFixtures.Experts(ffn, NumExperts, g, freshB: true);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = NumExperts, TopK = 3, Path = path };
        var block = MoeFixtures.Block(MoeFixtures.RandomRouter(NumExperts, g), experts, settings);
        var hidden = randn(new long[] { 2, 6, MoeFixtures.Hidden }, generator: g);
        var (output, _) = block.Forward(hidden, ffn, training: false);
        TensorAssert.Close(ffn.forward(hidden), output, 1e-5, "fresh MixLoRA vs base FFN");
    }

    [Fact]
    public void PartiallyTargetedExpertsMatchTheOracle()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var ffn = MoeFixtures.RandomFfn(g);
        var experts = MoeFixtures.Experts(ffn, NumExperts, g, gate: false, down: false); // only up_proj targeted
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = NumExperts };
        var hidden = randn(new long[] { 1, 8, MoeFixtures.Hidden }, generator: g);
        var probe = randn(hidden.shape, generator: g);
        var vanilla = Run(ExpertPath.Vanilla, settings, ffn, router, experts, hidden, probe);
        AssertSame(vanilla, Run(ExpertPath.Fused, settings, ffn, router, experts, hidden, probe), "up-only fused");
        AssertSame(vanilla, Run(ExpertPath.Shared, settings, ffn, router, experts, hidden, probe), "up-only shared");
    }

    /// <summary>
    /// With LoRA dropout active and an input that needs a gradient, the shared and fused autograd nodes (whose backward
    /// replays every expert) draw the same dropout masks as the plain vanilla graph: outputs, every parameter gradient
    /// and the input gradient agree. A replay that drew fresh masks would change the LoRA gradients.
    /// </summary>
    [Theory]
    [InlineData(RoutingStrategy.TopK)]
    [InlineData(RoutingStrategy.Switch)]
    public void DropoutReplayAndInputGradientsMatchVanilla(RoutingStrategy strategy)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(21);
        var ffn = MoeFixtures.RandomFfn(g, bias: true);
        var experts = MoeFixtures.Experts(ffn, NumExperts, g, dropout: 0.3);
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        var settings = new MoeSettings { Strategy = strategy, NumExperts = NumExperts, TopK = 2, ExpertCapacity = 2 };
        var hidden = randn(new long[] { 2, 7, MoeFixtures.Hidden }, generator: g);
        var probe = randn(hidden.shape, generator: g);

        (Result Result, Tensor InputGrad) RunWithDropout(ExpertPath path)
        {
            var block = MoeFixtures.Block(router, experts, settings with { Path = path });
            block.train();
            var trainables = MoeFixtures.Trainables(block);
            foreach (var p in trainables) p.grad = null;
            var input = hidden.clone().requires_grad_(true);
            manual_seed(1234);                                                        // LoRA dropout draws from the global generator
            var (output, logits) = block.Forward(input, ffn, training: false);
            // Draws between forward and backward: the replay must not see them.
            randn(100).Dispose();
            ((output * probe).sum() + logits!.square().mean()).backward();
            var grads = trainables.Select(p => p.grad is null ? zeros_like(p) : p.grad.clone()).ToList();
            return (new Result(output.detach(), grads), input.grad!.clone());
        }

        var (vanilla, vanillaInputGrad) = RunWithDropout(ExpertPath.Vanilla);
        foreach (var path in new[] { ExpertPath.Shared, ExpertPath.Fused })
        {
            var (result, inputGrad) = RunWithDropout(path);
            AssertSame(vanilla, result, $"{strategy} {path} with dropout");
            TensorAssert.Close(vanillaInputGrad, inputGrad, 1e-5 * Math.Max(1.0, vanillaInputGrad.abs().max().item<float>()), $"{strategy} {path} input gradient");
        }
        // Dropout really acted: without it the output differs.
        foreach (var e in experts) { e.GateProj!.eval(); e.UpProj!.eval(); e.DownProj!.eval(); }
        var (noDropout, _) = MoeFixtures.Block(router, experts, settings).Forward(hidden, ffn, training: false);
        Assert.True((noDropout - vanilla.Output).abs().max().item<float>() > 1e-3, "dropout changed nothing");
    }
}
