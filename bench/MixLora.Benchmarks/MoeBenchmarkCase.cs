using MixLora.Adapters;
using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Benchmarks;

/// <summary>A random LLaMA FFN with E LoRA experts and a fixed input, shared by all timed expert paths.</summary>
internal sealed class MoeBenchmarkCase
{
    public MoeBenchmarkCase(BenchmarkShape shape, RoutingStrategy strategy, ulong seed = 1)
    {
        Shape = shape;
        Strategy = strategy;
        var g = new Generator(seed);
        AdaptableLinear Linear(int outF, int inF) => new(randn(outF, inF, generator: g) / Math.Sqrt(inF), null);
        Ffn = new FeedForward(Linear(shape.Intermediate, shape.Hidden), Linear(shape.Intermediate, shape.Hidden),
            Linear(shape.Hidden, shape.Intermediate), "silu");
        var lora = new LoraSettings { Rank = shape.Rank, Alpha = 2 * shape.Rank };
        LoraLinear Lora(AdaptableLinear proj)
        {
            var l = new LoraLinear(proj.Weight, lora, g);
            using (no_grad()) l.LoraB.copy_(randn(l.LoraB.shape, generator: g) * 0.02); // trained-looking, non-zero
            return l;
        }
        Experts = Enumerable.Range(0, shape.Experts)
            .Select(_ => new ExpertLoras { GateProj = Lora(Ffn.GateProj!), UpProj = Lora(Ffn.UpProj), DownProj = Lora(Ffn.DownProj) })
            .ToList();
        Router = randn(new long[] { shape.Experts, shape.Hidden }, generator: g) * 0.02; // the reference's router init
        Hidden = randn(new long[] { shape.Batch, shape.Tokens / shape.Batch, shape.Hidden }, generator: g);
        Probe = randn(Hidden.shape, generator: g);
    }

    public BenchmarkShape Shape { get; }
    public RoutingStrategy Strategy { get; }
    public FeedForward Ffn { get; }
    public List<ExpertLoras> Experts { get; }
    public Tensor Router { get; }
    public Tensor Hidden { get; }
    public Tensor Probe { get; }

    public MixLoraFeedForward Block(ExpertPath path) =>
        new(0, Router, Experts, new MoeSettings { Strategy = Strategy, NumExperts = Shape.Experts, TopK = Shape.TopK, Path = path }, "silu");

    /// <summary>Inference forward (no autograd graph).</summary>
    public void Forward(MixLoraFeedForward block)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        block.Forward(Hidden, Ffn, training: false);
    }

    /// <summary>Training step without the optimizer: forward, router loss, backward.</summary>
    public void ForwardBackward(MixLoraFeedForward block)
    {
        using var scope = NewDisposeScope();
        var (output, logits) = block.Forward(Hidden, Ffn, training: true);
        var aux = Strategy switch
        {
            RoutingStrategy.TopK => RouterLoss.LoadBalancing([logits!], Shape.Experts, Shape.TopK, null),
            RoutingStrategy.Dynamic => RouterLoss.Dynamic([logits!], Shape.Experts, 0.8, 0),
            _ => RouterLoss.Switch([logits!], Shape.Experts, 0.001, 0.001),
        };
        ((output * Probe).sum() + aux * 0.01).backward();
        foreach (var p in block.parameters()) p.grad?.zero_();
    }
}

/// <summary>FFN and MoE sizes of one benchmark.</summary>
internal sealed record BenchmarkShape(int Hidden, int Intermediate, int Experts, int TopK, int Rank, int Tokens, int Batch);
