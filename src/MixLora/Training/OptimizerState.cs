namespace MixLora.Training;

/// <summary>
/// A snapshot of an <see cref="Optimizer"/>: its kind, hyperparameters, current learning-rate scale and the state of
/// every parameter that has been updated at least once (keyed by official parameter name). Owns its tensors.
/// </summary>
public sealed class OptimizerState : IDisposable
{
    public OptimizerState(string kind, IReadOnlyDictionary<string, double> hyperparameters, double learningRateScale,
        IReadOnlyDictionary<string, ParameterState> parameters)
    {
        Kind = kind;
        Hyperparameters = new SortedDictionary<string, double>(hyperparameters.ToDictionary(), StringComparer.Ordinal);
        LearningRateScale = learningRateScale;
        Parameters = new SortedDictionary<string, ParameterState>(parameters.ToDictionary(), StringComparer.Ordinal);
    }

    /// <summary>"adamw" or "sgd".</summary>
    public string Kind { get; }

    /// <summary>Settings that must match on restore (betas, eps, weight decay, momentum, per-group learning rates).</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters { get; }

    /// <summary>The schedule multiplier in effect when the snapshot was taken.</summary>
    public double LearningRateScale { get; }

    /// <summary>Per-parameter state in ordinal name order; parameters never updated are absent (as in torch).</summary>
    public IReadOnlyDictionary<string, ParameterState> Parameters { get; }

    public void Dispose()
    {
        foreach (var state in Parameters.Values) state.Dispose();
    }
}
