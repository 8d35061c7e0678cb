using MixLora.Adapters;
using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>Small random MoE blocks, and a dense oracle that evaluates an expert straight from its LoRA matrices.</summary>
internal static class MoeFixtures
{
    public const int Hidden = 16;
    public const int Intermediate = 24;

    /// <summary>A base FFN with weights ~ N(0, 1/in) (outputs of order 1) and optional biases.</summary>
    public static FeedForward RandomFfn(Generator g, bool bias = false, int hidden = Hidden, int intermediate = Intermediate)
    {
        AdaptableLinear Linear(int outF, int inF) => new(
            randn(outF, inF, generator: g) / Math.Sqrt(inF),
            bias ? randn(outF, generator: g) * 0.5 : null);
        return new FeedForward(Linear(intermediate, hidden), Linear(intermediate, hidden), Linear(hidden, intermediate), "silu");
    }

    /// <summary>E experts with LoRAs on the given projections; B random (non-zero) unless <paramref name="freshB"/>.</summary>
    public static List<ExpertLoras> Experts(FeedForward ffn, int numExperts, Generator g, bool dora = false, bool freshB = false,
        bool gate = true, bool up = true, bool down = true, int rank = 4, double dropout = 0)
    {
        var settings = new LoraSettings { Rank = rank, Alpha = 2 * rank, UseDora = dora, Dropout = dropout };
        LoraLinear? Make(bool on, AdaptableLinear proj)
        {
            if (!on) return null;
            var lora = new LoraLinear(proj.Weight, settings, g);
            if (!freshB)
                using (no_grad()) lora.LoraB.copy_(randn(lora.LoraB.shape, generator: g) * 0.3);
            return lora;
        }
        return Enumerable.Range(0, numExperts).Select(_ => new ExpertLoras
        {
            GateProj = Make(gate, ffn.GateProj!), UpProj = Make(up, ffn.UpProj), DownProj = Make(down, ffn.DownProj),
        }).ToList();
    }

    public static Tensor RandomRouter(int numExperts, Generator g, int hidden = Hidden) => randn(numExperts, hidden, generator: g);

    public static MixLoraFeedForward Block(Tensor router, IReadOnlyList<ExpertLoras> experts, MoeSettings settings, string activation = "silu") =>
        new(0, router, experts, settings, activation);

    /// <summary>Expert e's FFN on every token: [N, H] -> [N, H], computed from W and s·B·A directly (no LoraLinear code).</summary>
    public static Tensor DenseExpert(FeedForward ffn, ExpertLoras expert, Tensor x)
    {
        using var scope = NewDisposeScope();
        var gate = Project(ffn.GateProj!, expert.GateProj, x);
        var up = Project(ffn.UpProj, expert.UpProj, x);
        var a = nn.functional.silu(gate) * up;
        return Project(ffn.DownProj, expert.DownProj, a).MoveToOuterDisposeScope();
    }

    private static Tensor Project(AdaptableLinear proj, LoraLinear? lora, Tensor x)
    {
        var w = proj.Weight.detach();
        if (lora is not null) w = w + matmul(lora.LoraB.detach(), lora.LoraA.detach()) * lora.Scaling;
        var y = matmul(x, w.t());
        if (proj.Bias is not null) y = y + proj.Bias;
        if (lora?.Magnitude is { } m)
            y = y * (m.detach() / w.norm(1, keepdim: false));
        return y;
    }

    /// <summary>All trainable tensors of a block (router first, then every expert LoRA tensor in order).</summary>
    public static List<Tensor> Trainables(MixLoraFeedForward block) => block.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
}
