using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>The LLaMA gated FFN: down(act(gate(x)) ⊙ up(x)). W1 = gate_proj, W3 = up_proj, W2 = down_proj.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    /// <summary>Checkpoint names of the three projections in a LLaMA MLP.</summary>
    public static readonly (string Gate, string Up, string Down) LlamaNames = ("gate_proj", "up_proj", "down_proj");

    /// <summary>Checkpoint names of the three projections in a Mixtral expert (w1 = gate, w3 = up, w2 = down).</summary>
    public static readonly (string Gate, string Up, string Down) MixtralExpertNames = ("w1", "w3", "w2");

    public FeedForward(AdaptableLinear gateProj, AdaptableLinear upProj, AdaptableLinear downProj, string activation,
        (string Gate, string Up, string Down)? names = null)
        : base(nameof(FeedForward))
    {
        GateProj = gateProj;
        UpProj = upProj;
        DownProj = downProj;
        ActivationName = activation;
        Activation = Activations.Get(activation);
        var (gate, up, down) = names ?? LlamaNames;
        register_module(gate, gateProj);
        register_module(up, upProj);
        register_module(down, downProj);
    }

    public AdaptableLinear GateProj { get; }
    public AdaptableLinear UpProj { get; }
    public AdaptableLinear DownProj { get; }
    public string ActivationName { get; }
    public Func<Tensor, Tensor> Activation { get; }

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>x: [B, T, H] -> [B, T, H], with the projections' adapters (row-restricted by the context).</summary>
    public Tensor Forward(Tensor x, DecoderContext? context)
    {
        using var scope = NewDisposeScope();
        var hidden = Activation(GateProj.Forward(x, context)) * UpProj.Forward(x, context); // [.., H] -> [.., I]
        return DownProj.Forward(hidden, context).MoveToOuterDisposeScope();                 // [.., I] -> [.., H]
    }
}
