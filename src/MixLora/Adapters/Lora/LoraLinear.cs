using MixLora.Models;
using TorchSharp;
using TorchSharp.Modules;
using MixLora.Models.Kernels;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// A LoRA adapter on a frozen projection W [out, in]: y = W x + b + s · B A dropout(x), A [r, in], B [out, r],
/// parameters in fp32. With DoRA, y = (m / n) ⊙ (W x + b + s · B A x) where n = ‖W + s·B A‖ per output row
/// (detached) and m [out] is a trained magnitude (spec §3.5: the scaled part includes the bias, as the reference).
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>, ILinearDelta
{
    private readonly Parameter _loraA;
    private readonly Parameter _loraB;
    private readonly Parameter? _magnitude;
    // The frozen W, needed by DoRA only. A delegate, not a Tensor field: TorchSharp registers Tensor fields of a module
    // as buffers and would dispose the base model's weight together with the adapter.
    private readonly Func<Tensor>? _baseWeight;
    private readonly double _scaling;

    /// <param name="baseWeight">The frozen W [out, in] (its shape sizes A and B; its values feed DoRA's norm).</param>
    /// <param name="generator">Random source for the initialisation (reproducible runs).</param>
    public LoraLinear(Tensor baseWeight, LoraSettings settings, Generator? generator = null) : base(nameof(LoraLinear))
    {
        if (settings.Rank <= 0) throw new MixLoraException($"LoRA rank r must be > 0, got {settings.Rank}");
        Settings = settings;
        _scaling = settings.Scaling;
        long outFeatures = baseWeight.shape[0], inFeatures = baseWeight.shape[1];
        var device = baseWeight.device;
        using (no_grad())
        {
            var a = settings.Init switch
            {
                // kaiming-uniform with a = sqrt(5) on [r, in] reduces to U(-1/sqrt(in), 1/sqrt(in)).
                "original" => empty([settings.Rank, inFeatures], dtype: ScalarType.Float32, device: device)
                    .uniform_(-1.0 / Math.Sqrt(inFeatures), 1.0 / Math.Sqrt(inFeatures), generator),
                "gaussian" => empty([settings.Rank, inFeatures], dtype: ScalarType.Float32, device: device)
                    .normal_(0, 1.0 / settings.Rank, generator),
                _ => throw new MixLoraException($"lora_init \"{settings.Init}\" is not supported (expected original or gaussian)"),
            };
            _loraA = new Parameter(a, requires_grad: true);
            _loraB = new Parameter(zeros([outFeatures, settings.Rank], dtype: ScalarType.Float32, device: device), requires_grad: true);
        }
        register_parameter("lora_A", _loraA);
        register_parameter("lora_B", _loraB);
        if (settings.UseDora)
        {
            _baseWeight = () => baseWeight;
            using (no_grad()) _magnitude = new Parameter(WeightNorm(), requires_grad: true); // ‖W‖ per row while B = 0
            register_parameter("magnitude", _magnitude);
        }
    }

    public LoraSettings Settings { get; }

    /// <summary>The adapter this LoRA belongs to: in a fused multi-adapter batch it changes only that adapter's rows.</summary>
    public object? Owner { get; init; }

    /// <summary>A [r, in].</summary>
    public Parameter LoraA => _loraA;

    /// <summary>B [out, r].</summary>
    public Parameter LoraB => _loraB;

    /// <summary>DoRA magnitude m [out], or null without DoRA.</summary>
    public Parameter? Magnitude => _magnitude;

    public double Scaling => _scaling;

    /// <summary>
    /// The frozen projection with this adapter folded in, in fp32: W' = W + s·B A and b' = b; with DoRA both are then
    /// scaled row-wise by m / ‖W + s·B A‖, which is exactly what the forward computes (the bias inside the scaled part).
    /// </summary>
    public (Tensor Weight, Tensor? Bias) Merged(Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var merged = weight.to(ScalarType.Float32) + matmul(_loraB, _loraA) * _scaling;        // [out, r] @ [r, in] -> [out, in]
        var mergedBias = bias?.to(ScalarType.Float32).clone();
        if (_magnitude is not null)
        {
            var scale = _magnitude / merged.norm(1, keepdim: false);                           // [out, in] -> [out]
            merged = merged * scale.unsqueeze(1);                                              // [out, in] * [out, 1]
            mergedBias = mergedBias is null ? null : mergedBias * scale;
        }
        return (merged.MoveToOuterDisposeScope(), mergedBias?.MoveToOuterDisposeScope());
    }

    /// <summary>Whether a forward now draws dropout masks from torch's global generator.</summary>
    public bool IsDropoutActive => Settings.Dropout > 0 && (training || Settings.DropoutAtInference);

    /// <summary>The additive LoRA term s · B A dropout(x): [.., in] -> [.., out] in fp32.</summary>
    public Tensor Delta(Tensor input)
    {
        using var scope = NewDisposeScope();
        var up = SmallBatchLinear.Linear(Down(input), _loraB);                         // [.., r] -> [.., out]
        return (up * _scaling).MoveToOuterDisposeScope();
    }

    /// <summary>A dropout(x): [.., in] -> [.., r] in fp32.</summary>
    private Tensor Down(Tensor input)
    {
        var x = input.to(ScalarType.Float32);
        if (IsDropoutActive) x = nn.functional.dropout(x, Settings.Dropout, training: true);
        return SmallBatchLinear.Linear(x, _loraA);                                     // [.., in] -> [.., r]
    }

    /// <summary>Adds the adapter to the frozen output y0 [.., out] of <paramref name="input"/> [.., in].</summary>
    public Tensor Apply(Tensor input, Tensor baseOutput)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        if (_magnitude is null && baseOutput.dtype == ScalarType.Float32 && !SmallBatchLinear.AppliesTo(baseOutput.numel() / baseOutput.shape[^1], _loraB))
        {
            // One GEMM that adds s · (A x) Bᵀ onto y0: no [.., out] temporaries for the delta and the sum.
            long outFeatures = baseOutput.shape[^1];
            var down = Down(input).reshape(-1, _loraA.shape[0]);                      // [.., r] -> [M, r]
            result = addmm(baseOutput.reshape(-1, outFeatures), down, _loraB.t(), beta: 1, alpha: (float)_scaling)
                .view(baseOutput.shape);                                              // [M, out] -> [.., out]
        }
        else if (_magnitude is null)
        {
            result = baseOutput + Delta(input).to(baseOutput.dtype);
        }
        else
        {
            var delta = Delta(input);
            Tensor norm;
            using (no_grad()) norm = WeightNorm();                                     // [out], treated as constant
            var scale = (_magnitude / norm).to(baseOutput.dtype);                     // [out] broadcast over rows
            result = scale * (baseOutput + delta.to(baseOutput.dtype));
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="ILinearDelta"/>: like <see cref="Apply(Tensor, Tensor)"/> but, when the context assigns batch rows to
    /// adapters, only on this adapter's rows [B_a, ..] (others keep the frozen output).
    /// </summary>
    public Tensor Apply(Tensor input, Tensor baseOutput, DecoderContext? context)
    {
        var rows = Owner is null ? null : context?.RowsOf(Owner);
        if (rows is null) return Apply(input, baseOutput);
        if (rows.Count == 0) return baseOutput;
        if (rows.Start == 0 && rows.Count == baseOutput.shape[0]) return Apply(input, baseOutput);
        using var scope = NewDisposeScope();
        long total = baseOutput.shape[0], end = rows.Start + rows.Count;
        var adapted = Apply(input.narrow(0, rows.Start, rows.Count), baseOutput.narrow(0, rows.Start, rows.Count));
        var parts = new List<Tensor>();
        if (rows.Start > 0) parts.Add(baseOutput.narrow(0, 0, rows.Start));
        parts.Add(adapted);
        if (end < total) parts.Add(baseOutput.narrow(0, end, total - end));
        return cat(parts, 0).MoveToOuterDisposeScope();                              // [B, .., out]
    }

    public override Tensor forward(Tensor input) =>
        throw new InvalidOperationException("LoraLinear extends a frozen projection; call Apply(input, baseOutput).");

    /// <summary>n = ‖W + s · B A‖₂ over the input dimension, one value per output row, in fp32.</summary>
    private Tensor WeightNorm()
    {
        using var scope = NewDisposeScope();
        var merged = _baseWeight!().to(ScalarType.Float32) + matmul(_loraB, _loraA) * _scaling; // [out, r] @ [r, in] -> [out, in]
        return merged.norm(1, keepdim: false).MoveToOuterDisposeScope();                       // [out, in] -> [out]
    }

    /// <summary>Recomputes m = ‖W + s · B A‖ (what the reference does when a file has no magnitude).</summary>
    public void ResetMagnitudeFromWeights()
    {
        if (_magnitude is null) return;
        using var _ = no_grad();
        using var norm = WeightNorm();
        _magnitude.copy_(norm);
    }
}
