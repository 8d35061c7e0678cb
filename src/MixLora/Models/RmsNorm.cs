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
    // Named as registered: TorchSharp's Module.to(device or dtype) swaps in the moved tensor only for a field of that name.
    private readonly Parameter weight;
    private Tensor? _shifted;   // Gemma: 1 + w (fp32, formed once as HF forms it on every call); null for LLaMA
    private readonly double _eps;

    public RmsNorm(Tensor weight, double eps, bool addOne = false) : base(nameof(RmsNorm))
    {
        this.weight = new Parameter(weight, requires_grad: false);
        _shifted = addOne ? ShiftedWeight() : null;
        _eps = eps;
        register_parameter("weight", this.weight);
    }

    /// <summary>The stored weight w (the checkpoint's tensor; with addOne the norm multiplies by 1 + w).</summary>
    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        if (_shifted is not null && _shifted.device != weight.device)
        {
            // The model moved to another device (model.to): 1 + w is no registered tensor, so it follows here.
            _shifted.Dispose();
            _shifted = ShiftedWeight();
        }
        var scale = _shifted ?? weight;
        if (Kernels.DecodeElementwise.TryRmsNorm(x, scale, _eps) is { } fast) return fast;    // a decode step's few rows
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1L], keepdim: true);      // [..., H] -> [..., 1]
        var normalised = (x32 * (variance + _eps).rsqrt()).to(x.dtype);
        return (scale * normalised).to(x.dtype).MoveToOuterDisposeScope();
    }

    private Tensor ShiftedWeight() => (weight.detach().to(ScalarType.Float32) + 1).DetachFromDisposeScope();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _shifted?.Dispose();
        base.Dispose(disposing);
    }
}
