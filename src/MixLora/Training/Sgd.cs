using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// torch.optim.SGD with dampening 0 and no Nesterov: d ← g + wd·p; with momentum, the buffer starts as a copy of d
/// and then follows b ← μ·b + d, and d ← b; finally p ← p − lr·d.
/// </summary>
public sealed class Sgd : Optimizer
{
    public const string MomentumBuffer = "momentum_buffer";

    /// <exception cref="MixLoraException">A setting is out of range.</exception>
    public Sgd(IReadOnlyList<ParameterGroup> groups, double momentum = 0, double weightDecay = 0.01) : base(groups)
    {
        if (!(momentum >= 0) || !double.IsFinite(momentum)) throw new MixLoraException($"sgd: momentum must be ≥ 0, not {momentum}");
        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
            throw new MixLoraException($"sgd: weight_decay must be ≥ 0, not {weightDecay}");
        Momentum = momentum;
        WeightDecay = weightDecay;
        BufferKeys = momentum != 0 ? [MomentumBuffer] : [];
    }

    public override string Kind => "sgd";

    public double Momentum { get; }
    public double WeightDecay { get; }

    protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>
    {
        ["momentum"] = Momentum, ["weight_decay"] = WeightDecay,
    };

    protected override IReadOnlyList<string> BufferKeys { get; }

    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, double learningRate)
    {
        var direction = WeightDecay != 0 ? grad.add(parameter, WeightDecay) : grad;
        if (Momentum != 0)
        {
            if (state.Buffers.TryGetValue(MomentumBuffer, out var buffer))
            {
                buffer.mul_(Momentum).add_(direction); // dampening 0: alpha = 1
            }
            else
            {
                state.SetBuffer(MomentumBuffer, direction.clone());
                buffer = state.Buffers[MomentumBuffer];
            }
            direction = buffer;
        }
        parameter.add_(direction, -learningRate);
    }
}
