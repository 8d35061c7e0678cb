using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Phi's LayerNorm with bias: y = (x − mean) / sqrt(var + eps) ⊙ w + b over the last dimension, in fp32 and cast back.
/// Parameter names are the checkpoint's: <c>weight</c> and <c>bias</c>.
/// </summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly double _eps;

    public LayerNorm(Tensor weight, Tensor bias, double eps) : base(nameof(LayerNorm))
    {
        _weight = new Parameter(weight, requires_grad: false);
        _bias = new Parameter(bias, requires_grad: false);
        _eps = eps;
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public Parameter Weight => _weight;
    public Parameter Bias => _bias;

    /// <summary>x: [.., H] -> [.., H].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normalised = nn.functional.layer_norm(x32, [x.shape[^1]], _weight.to(ScalarType.Float32), _bias.to(ScalarType.Float32), _eps);
        return normalised.to(x.dtype).MoveToOuterDisposeScope();
    }
}
