using TorchSharp.Modules;

namespace MixLora.Training;

/// <summary>
/// Parameters that share a base learning rate (torch's "param group"). The effective rate of a step is
/// <see cref="LearningRate"/> × the optimizer's <see cref="Optimizer.LearningRateScale"/> (the schedule multiplier).
/// </summary>
public sealed class ParameterGroup
{
    public ParameterGroup(string name, double learningRate, IEnumerable<(string Name, Parameter Parameter)> parameters)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(parameters);
        if (!double.IsFinite(learningRate) || learningRate < 0)
            throw new MixLoraException($"parameter group '{name}': learning rate must be a finite number ≥ 0, not {learningRate}");
        Name = name;
        LearningRate = learningRate;
        Parameters = parameters.ToList();
    }

    /// <summary>A label for logs and error messages (e.g. "A", "B" for LoRA+).</summary>
    public string Name { get; }

    /// <summary>The base learning rate, before the schedule multiplier.</summary>
    public double LearningRate { get; }

    /// <summary>The parameters with their official names (names are unique across an optimizer's groups).</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }
}
