using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// LLaMA RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps), computed in fp32 and cast back (TorchSharp has none). Gemma's
/// variant multiplies by (1 + w): its checkpoints store w around zero.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _weight;
    private readonly Tensor _scale;   // w, or 1 + w (fp32, formed once as HF forms it on every call)
    private readonly double _eps;

    public RmsNorm(Tensor weight, double eps, bool addOne = false) : base(nameof(RmsNorm))
    {
        _weight = new Parameter(weight, requires_grad: false);
        _scale = addOne ? (_weight.detach().to(ScalarType.Float32) + 1).DetachFromDisposeScope() : _weight;
        _eps = eps;
        register_parameter("weight", _weight);
    }

    /// <summary>The stored weight w (the checkpoint's tensor; with addOne the norm multiplies by 1 + w).</summary>
    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x)
    {
        if (Kernels.DecodeElementwise.TryRmsNorm(x, _scale, _eps) is { } fast) return fast;    // a decode step's few rows
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1L], keepdim: true);      // [..., H] -> [..., 1]
        var normalised = (x32 * (variance + _eps).rsqrt()).to(x.dtype);
        return (_scale * normalised).to(x.dtype).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !ReferenceEquals(_scale, _weight)) _scale.Dispose();
        base.Dispose(disposing);
    }
}
