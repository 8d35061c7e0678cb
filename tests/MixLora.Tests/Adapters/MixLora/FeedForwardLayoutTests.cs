using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>
/// MixLoRA experts on Phi-3's stacked gate_up_proj and on Phi's ungated fc1/fc2 FFN: the three expert paths agree in
/// outputs and gradients, and equal each expert's FFN written out from the frozen weights and s·B·A.
/// </summary>
public class FeedForwardLayoutTests
{
    private const int NumExperts = 6, H = MoeFixtures.Hidden, I = MoeFixtures.Intermediate;

    /// <summary>Phi-3: a [2I, H] gate_up_proj (silu); Phi: fc1/fc2 with biases (gelu_new).</summary>
    private static FeedForward Ffn(string layout, Generator g)
    {
        AdaptableLinear Linear(int outF, int inF, bool bias) =>
            new(randn(outF, inF, generator: g) / Math.Sqrt(inF), bias ? randn(outF, generator: g) * 0.5 : null);
        return layout == "phi3"
            ? FeedForward.WithFusedGateUp(Linear(2 * I, H, false), Linear(H, I, false), "silu")
            : FeedForward.Ungated(Linear(I, H, true), Linear(H, I, true), "gelu_new");
    }

    private static List<ExpertLoras> Experts(FeedForward ffn, Generator g, bool dora)
    {
        var settings = new LoraSettings { Rank = 3, Alpha = 6, UseDora = dora };
        LoraLinear Lora(AdaptableLinear proj)
        {
            var lora = new LoraLinear(proj.Weight, settings, g);
            using (no_grad()) lora.LoraB.copy_(randn(lora.LoraB.shape, generator: g) * 0.3);
            return lora;
        }
        return Enumerable.Range(0, NumExperts).Select(_ => ffn.GateUpProj is { } gateUp
            ? new ExpertLoras { GateUpProj = Lora(gateUp), DownProj = Lora(ffn.DownProj) }
            : new ExpertLoras { UpProj = Lora(ffn.UpProj), DownProj = Lora(ffn.DownProj) }).ToList();
    }

    /// <summary>x W'ᵀ + b with W' = W + s·B·A (DoRA: rescaled row-wise to the magnitude), straight from the matrices.</summary>
    private static Tensor Project(AdaptableLinear proj, LoraLinear lora, Tensor x)
    {
        var w = proj.Weight.detach() + matmul(lora.LoraB.detach(), lora.LoraA.detach()) * lora.Scaling;
        var y = matmul(x, w.t());
        if (proj.Bias is not null) y = y + proj.Bias;
        return lora.Magnitude is { } m ? y * (m.detach() / w.norm(1, keepdim: false)) : y;
    }

    /// <summary>One expert on every token [N, H] -> [N, H]: Phi-3 splits the adapted stacked product in halves (gate first).</summary>
    private static Tensor DenseExpert(FeedForward ffn, ExpertLoras expert, Tensor x)
    {
        if (ffn.GateUpProj is { } gateUp)
        {
            var both = Project(gateUp, expert.GateUpProj!, x);                                   // [N, 2I]
            return Project(ffn.DownProj, expert.DownProj!, nn.functional.silu(both.narrow(1, 0, I)) * both.narrow(1, I, I));
        }
        var z = Project(ffn.UpProj, expert.UpProj!, x);
        var gelu = 0.5 * z * (1 + ((z + 0.044715 * z.pow(3)) * Math.Sqrt(2 / Math.PI)).tanh());
        return Project(ffn.DownProj, expert.DownProj!, gelu);
    }

    [Theory]
    [InlineData("phi3", false)]
    [InlineData("phi3", true)]
    [InlineData("phi", false)]
    [InlineData("phi", true)]
    public void PathsAgreeAndEqualTheExpertFormula(string layout, bool dora)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(21);
        var ffn = Ffn(layout, g);
        var experts = Experts(ffn, g, dora);
        var router = MoeFixtures.RandomRouter(NumExperts, g);
        var settings = new MoeSettings { Strategy = RoutingStrategy.TopK, NumExperts = NumExperts, TopK = 2 };
        var hidden = randn(new long[] { 2, 7, H }, generator: g);
        var probe = randn(hidden.shape, generator: g);

        var vanilla = ExpertPathEquivalenceTests.Run(ExpertPath.Vanilla, settings, ffn, router, experts, hidden, probe);
        ExpertPathEquivalenceTests.AssertSame(vanilla, ExpertPathEquivalenceTests.Run(ExpertPath.Shared, settings, ffn, router, experts, hidden, probe), $"{layout} shared");
        ExpertPathEquivalenceTests.AssertSame(vanilla, ExpertPathEquivalenceTests.Run(ExpertPath.Fused, settings, ffn, router, experts, hidden, probe), $"{layout} fused");
        var trained = dora ? experts.Select(e => e.DownProj!.Magnitude!) : experts.Select(e => (e.GateUpProj ?? e.UpProj)!.LoraA);
        Assert.Contains(trained, p => p.grad is { } grad && grad.abs().max().item<float>() > 0);

        using var decision = MoeFixtures.Block(router, experts, settings, ffn.ActivationName).Route(hidden);
        var x = hidden.reshape(-1, H);
        var expected = zeros_like(x);
        for (int e = 0; e < NumExperts; e++)
            expected += decision.Weights.select(1, e).unsqueeze(1) * DenseExpert(ffn, experts[e], x);
        TensorAssert.Close(expected.reshape(hidden.shape), vanilla.Output, 1e-5, $"{layout} vs the expert formula");
    }

    [Fact]
    public void Phi3GateAndUpAreViewsOfTheStackedWeightThatFollowTheModule()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(4);
        using var ffn = Ffn("phi3", g);
        Assert.Equal(["gate_up_proj.weight", "down_proj.weight"], ffn.named_parameters().Select(p => p.name));
        using (no_grad()) ffn.GateUpProj!.Weight[I + 2, 3] = 7f;                                     // a row of the up half
        Assert.Equal(7f, ffn.UpProj.Weight[2, 3].item<float>());
        var x = randn(3, H, generator: g);
        var gateUp = matmul(x, ffn.GateUpProj.Weight.t());
        var expected = matmul(nn.functional.silu(gateUp.narrow(1, 0, I)) * gateUp.narrow(1, I, I), ffn.DownProj.Weight.t());
        TensorAssert.Close(expected, ffn.forward(x), 1e-6, "phi3 FFN");
        // Moving the module makes new tensors; the views are made again from them.
        ffn.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, ffn.GateUpProj.Weight.dtype);
        Assert.Equal(ScalarType.Float64, ffn.named_parameters().First().parameter.dtype);
        Assert.Equal(ScalarType.Float64, ffn.GateProj!.Weight.dtype);
        Assert.Equal(7.0, ffn.UpProj.Weight[2, 3].item<double>());
        using (no_grad()) ffn.GateUpProj.Weight[1, 0] = 9.0;                                          // a row of the gate half
        Assert.Equal(9.0, ffn.GateProj.Weight[1, 0].item<double>());
    }
}
