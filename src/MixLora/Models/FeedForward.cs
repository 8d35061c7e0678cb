using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>The LLaMA gated FFN: down(act(gate(x)) ⊙ up(x)). W1 = gate_proj, W3 = up_proj, W2 = down_proj.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    public FeedForward(AdaptableLinear gateProj, AdaptableLinear upProj, AdaptableLinear downProj, string activation)
        : base(nameof(FeedForward))
    {
        GateProj = gateProj;
        UpProj = upProj;
        DownProj = downProj;
        ActivationName = activation;
        Activation = Activations.Get(activation);
        register_module("gate_proj", gateProj);
        register_module("up_proj", upProj);
        register_module("down_proj", downProj);
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
