using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// torch.optim.AdamW (no amsgrad, not maximizing), step for step: decoupled weight decay
/// p ← p·(1 − lr·wd), then m ← lerp(m, g, 1 − β1), v ← β2·v + (1 − β2)·g², and
/// p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε), with t counted per parameter.
/// The scalar arithmetic is done in double, as Python does, and the tensor operations are the ones torch uses.
/// </summary>
public sealed class AdamW : Optimizer
{
    public const string ExpAvg = "exp_avg";
    public const string ExpAvgSq = "exp_avg_sq";

    /// <exception cref="MixLoraException">A setting is out of range.</exception>
    public AdamW(IReadOnlyList<ParameterGroup> groups, double weightDecay = 0.01,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) : base(groups)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new MixLoraException($"adamw: beta1 must be in [0, 1), not {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new MixLoraException($"adamw: beta2 must be in [0, 1), not {beta2}");
        if (!(eps >= 0) || !double.IsFinite(eps)) throw new MixLoraException($"adamw: eps must be ≥ 0, not {eps}");
        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
            throw new MixLoraException($"adamw: weight_decay must be ≥ 0, not {weightDecay}");
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    public override string Kind => "adamw";

    public double WeightDecay { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }

    protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>
    {
        ["beta1"] = Beta1, ["beta2"] = Beta2, ["eps"] = Eps, ["weight_decay"] = WeightDecay,
    };

    protected override IReadOnlyList<string> BufferKeys { get; } = [ExpAvg, ExpAvgSq];

    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, double learningRate)
    {
        if (!state.Buffers.TryGetValue(ExpAvg, out var expAvg))
        {
            state.SetBuffer(ExpAvg, zeros_like(parameter));
            state.SetBuffer(ExpAvgSq, zeros_like(parameter));
            expAvg = state.Buffers[ExpAvg];
        }
        var expAvgSq = state.Buffers[ExpAvgSq];

        if (WeightDecay != 0) parameter.mul_(1 - learningRate * WeightDecay);

        // torch uses lerp_ with a Python-float weight; TorchSharp's lerp_ takes a tensor, so a 0-d one of the same
        // dtype carries the same (float-rounded) weight into the same kernel formula.
        var weight = tensor(1 - Beta1, dtype: parameter.dtype, device: parameter.device);
        expAvg.lerp_(grad, weight);
        expAvgSq.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);

        double step = state.Step;
        double biasCorrection1 = 1 - Math.Pow(Beta1, step);
        double biasCorrection2 = 1 - Math.Pow(Beta2, step);
        double stepSize = learningRate / biasCorrection1;
        double biasCorrection2Sqrt = Math.Pow(biasCorrection2, 0.5); // Python's `** 0.5`

        var denominator = (expAvgSq.sqrt() / biasCorrection2Sqrt).add_(Eps);
        parameter.addcdiv_(expAvg, denominator, -stepSize);
    }
}
