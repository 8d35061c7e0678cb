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
    private readonly Parameter _weight;
    private readonly Parameter? _bias;

    public AdaptableLinear(Tensor weight, Tensor? bias) : base(nameof(AdaptableLinear))
    {
        _weight = new Parameter(weight, requires_grad: false);
        register_parameter("weight", _weight);
        if (bias is not null)
        {
            _bias = new Parameter(bias, requires_grad: false);
            register_parameter("bias", _bias);
        }
    }

    public Parameter Weight => _weight;
    public Parameter? Bias => _bias;
    public long InFeatures => _weight.shape[1];
    public long OutFeatures => _weight.shape[0];

    /// <summary>Adapters applied after the frozen projection, in order.</summary>
    public List<ILinearDelta> Deltas { get; } = [];

    /// <summary>The frozen projection alone, without adapters: [.., in] -> [.., out] (a few rows: the decode kernel).</summary>
    public Tensor ForwardBase(Tensor x) => Kernels.SmallBatchLinear.Linear(x, _weight, _bias);

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
