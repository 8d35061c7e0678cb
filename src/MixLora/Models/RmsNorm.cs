using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>LLaMA RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps), computed in fp32 and cast back (TorchSharp has none).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _weight;
    private readonly double _eps;

    public RmsNorm(Tensor weight, double eps) : base(nameof(RmsNorm))
    {
        _weight = new Parameter(weight, requires_grad: false);
        _eps = eps;
        register_parameter("weight", _weight);
    }

    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x)
    {
        if (Kernels.DecodeElementwise.TryRmsNorm(x, _weight, _eps) is { } fast) return fast;   // a decode step's few rows
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1L], keepdim: true);      // [..., H] -> [..., 1]
        var normalised = (x32 * (variance + _eps).rsqrt()).to(x.dtype);
        return (_weight * normalised).MoveToOuterDisposeScope();
    }
}
