using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// A decoder layer's FFN in one of three layouts: LLaMA's gated down(act(gate(x)) ⊙ up(x)) (W1 = gate_proj,
/// W3 = up_proj, W2 = down_proj); Phi-3's, the same function with W1 and W3 stacked in one <c>gate_up_proj</c> (gate
/// rows first); and Phi's ungated fc2(act(fc1(x))), where fc1 plays W3's part and fc2 W2's.
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    /// <summary>Checkpoint names of the three projections in a LLaMA MLP.</summary>
    public static readonly (string Gate, string Up, string Down) LlamaNames = ("gate_proj", "up_proj", "down_proj");

    /// <summary>Checkpoint names of the three projections in a Mixtral expert (w1 = gate, w3 = up, w2 = down).</summary>
    public static readonly (string Gate, string Up, string Down) MixtralExpertNames = ("w1", "w3", "w2");

    /// <summary>A gated FFN with separate gate and up projections (LLaMA, Mixtral experts).</summary>
    public FeedForward(AdaptableLinear gateProj, AdaptableLinear upProj, AdaptableLinear downProj, string activation,
        (string Gate, string Up, string Down)? names = null)
        : this(gateProj, upProj, downProj, activation)
    {
        var (gate, up, down) = names ?? LlamaNames;
        register_module(gate, gateProj);
        register_module(up, upProj);
        register_module(down, downProj);
    }

    private readonly AdaptableLinear? _gateProj;
    private readonly AdaptableLinear? _upProj;
    private (Parameter Source, AdaptableLinear Gate, AdaptableLinear Up)? _halves;

    private FeedForward(AdaptableLinear? gateProj, AdaptableLinear? upProj, AdaptableLinear downProj, string activation)
        : base(nameof(FeedForward))
    {
        _gateProj = gateProj;
        _upProj = upProj;
        DownProj = downProj;
        ActivationName = activation;
        Activation = Activations.Get(activation);
    }

    /// <summary>
    /// Phi-3: <paramref name="gateUpProj"/> [2I, H] holds W1's rows then W3's. <see cref="GateProj"/> and
    /// <see cref="UpProj"/> are frozen views of its two halves (no copy) for the MixLoRA experts, which apply the
    /// frozen W1 and W3 separately; the state dict has <c>gate_up_proj</c> and <c>down_proj</c> only.
    /// </summary>
    public static FeedForward WithFusedGateUp(AdaptableLinear gateUpProj, AdaptableLinear downProj, string activation)
    {
        if (gateUpProj.OutFeatures != 2 * downProj.InFeatures)
            throw new ArgumentException($"gate_up_proj must have 2 × {downProj.InFeatures} rows, got {gateUpProj.OutFeatures}");
        var ffn = new FeedForward(null, null, downProj, activation) { GateUpProj = gateUpProj };
        ffn.register_module("gate_up_proj", gateUpProj);
        ffn.register_module("down_proj", downProj);
        ffn.Halves(gateUpProj);
        return ffn;
    }

    /// <summary>
    /// The two halves of Phi-3's gate_up_proj as projections sharing its storage; made again when the weight is a new
    /// tensor (the model moved to another device or dtype), so they always read the live weight.
    /// </summary>
    private (Parameter Source, AdaptableLinear Gate, AdaptableLinear Up) Halves(AdaptableLinear gateUp)
    {
        if (_halves is { } current && ReferenceEquals(current.Source, gateUp.Weight)) return current;
        _halves?.Gate.Dispose();
        _halves?.Up.Dispose();
        long i = DownProj.InFeatures;
        var gate = Unscoped(new AdaptableLinear(gateUp.Weight.narrow(0, 0, i), gateUp.Bias?.narrow(0, 0, i))); // [2I, H] -> [I, H] view
        var up = Unscoped(new AdaptableLinear(gateUp.Weight.narrow(0, i, i), gateUp.Bias?.narrow(0, i, i)));   // [2I, H] -> [I, H] view
        _halves = (gateUp.Weight, gate, up);
        return _halves.Value;
    }

    /// <summary>Phi: fc2(act(fc1 x)); <see cref="GateProj"/> is null and fc1 is <see cref="UpProj"/>.</summary>
    public static FeedForward Ungated(AdaptableLinear fc1, AdaptableLinear fc2, string activation)
    {
        var ffn = new FeedForward(null, fc1, fc2, activation);
        ffn.register_module("fc1", fc1);
        ffn.register_module("fc2", fc2);
        return ffn;
    }

    /// <summary>W1; null in Phi's ungated FFN; a view of <see cref="GateUpProj"/> in Phi-3's.</summary>
    public AdaptableLinear? GateProj => GateUpProj is null ? _gateProj : Halves(GateUpProj).Gate;

    /// <summary>W3 (Phi: fc1); a view of <see cref="GateUpProj"/> in Phi-3's.</summary>
    public AdaptableLinear UpProj => GateUpProj is null ? _upProj! : Halves(GateUpProj).Up;

    /// <summary>W2 (Phi: fc2).</summary>
    public AdaptableLinear DownProj { get; }

    /// <summary>Phi-3's stacked W1 and W3 [2I, H], where its adapters attach; null in the other layouts.</summary>
    public AdaptableLinear? GateUpProj { get; private init; }

    public string ActivationName { get; }
    public Func<Tensor, Tensor> Activation { get; }

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>x: [B, T, H] -> [B, T, H], with the projections' adapters (row-restricted by the context).</summary>
    public Tensor Forward(Tensor x, DecoderContext? context)
    {
        using var scope = NewDisposeScope();
        Tensor hidden;                                                                     // [.., I]
        if (GateUpProj is not null)
        {
            long i = DownProj.InFeatures;
            var gateUp = GateUpProj.Forward(x, context);                                  // [.., H] -> [.., 2I]
            hidden = Activation(gateUp.narrow(-1, 0, i)) * gateUp.narrow(-1, i, i);
        }
        else if (_gateProj is null)
            hidden = Activation(_upProj!.Forward(x, context));                            // [.., H] -> [.., I]
        else
            hidden = Activation(_gateProj.Forward(x, context)) * _upProj!.Forward(x, context); // [.., H] -> [.., I]
        return DownProj.Forward(hidden, context).MoveToOuterDisposeScope();              // [.., I] -> [.., H]
    }

    /// <summary>The views may be made inside a forward's dispose scope; they live as long as this module instead.</summary>
    private static AdaptableLinear Unscoped(AdaptableLinear view)
    {
        view.Weight.DetachFromDisposeScope();
        view.Bias?.DetachFromDisposeScope();
        return view;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _halves?.Gate.Dispose();
            _halves?.Up.Dispose();
        }
        base.Dispose(disposing);
    }
}
