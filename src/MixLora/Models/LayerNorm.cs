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
    // Named as registered: TorchSharp's Module.to(device or dtype) swaps in the moved tensor only for a field of that name.
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly double _eps;

    public LayerNorm(Tensor weight, Tensor bias, double eps) : base(nameof(LayerNorm))
    {
        this.weight = new Parameter(weight, requires_grad: false);
        this.bias = new Parameter(bias, requires_grad: false);
        _eps = eps;
        register_parameter("weight", this.weight);
        register_parameter("bias", this.bias);
    }

    public Parameter Weight => weight;
    public Parameter Bias => bias;

    /// <summary>x: [.., H] -> [.., H].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normalised = nn.functional.layer_norm(x32, [x.shape[^1]], weight.to(ScalarType.Float32), bias.to(ScalarType.Float32), _eps);
        return normalised.to(x.dtype).MoveToOuterDisposeScope();
    }
}
