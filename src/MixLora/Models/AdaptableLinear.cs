using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// A frozen linear projection y = x Wᵀ + b (W: [out, in]) that adapters can extend through <see cref="Deltas"/>.
/// Parameter names are the checkpoint's: <c>weight</c> and <c>bias</c>.
/// </summary>
public sealed class AdaptableLinear : nn.Module<Tensor, Tensor>
{
    // Named as registered: TorchSharp's Module.to(device or dtype) swaps in the moved tensor only for a field of that name.
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public AdaptableLinear(Tensor weight, Tensor? bias) : base(nameof(AdaptableLinear))
    {
        this.weight = new Parameter(weight, requires_grad: false);
        register_parameter("weight", this.weight);
        if (bias is not null)
        {
            this.bias = new Parameter(bias, requires_grad: false);
            register_parameter("bias", this.bias);
        }
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public long InFeatures => weight.shape[1];
    public long OutFeatures => weight.shape[0];

    /// <summary>Adapters applied after the frozen projection, in order.</summary>
    public List<ILinearDelta> Deltas { get; } = [];

    /// <summary>The frozen projection alone, without adapters: [.., in] -> [.., out] (a few rows: the decode kernel).</summary>
    public Tensor ForwardBase(Tensor x) => Kernels.SmallBatchLinear.Linear(x, weight, bias);

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>Frozen projection plus the attached adapters (restricted to their rows when the context says so).</summary>
    public Tensor Forward(Tensor x, DecoderContext? context)
    {
        if (Deltas.Count == 0) return ForwardBase(x);
        using var scope = NewDisposeScope();
        var y = ForwardBase(x);                                                     // [.., in] -> [.., out]
        foreach (var delta in Deltas) y = delta.Apply(x, y, context);
        return y.MoveToOuterDisposeScope();
    }
}
