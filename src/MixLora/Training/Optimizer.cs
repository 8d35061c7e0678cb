using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// Base of our own optimizers. Unlike torch.optim, every bit of state is ours, so a checkpoint can capture and
/// restore it exactly (<see cref="CaptureState"/>, <see cref="LoadState"/>). Parameters are known by their official
/// names; a parameter without a gradient is skipped by <see cref="Step"/> and gets no state, as in torch.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly Dictionary<string, ParameterState> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    /// <exception cref="MixLoraException">A parameter name or parameter object appears twice.</exception>
    protected Optimizer(IReadOnlyList<ParameterGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Groups = groups.ToList();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var group in Groups)
        {
            foreach (var (name, parameter) in group.Parameters)
            {
                if (!_byName.TryAdd(name, parameter))
                    throw new MixLoraException($"optimizer: parameter name '{name}' appears more than once");
                if (!seen.Add(parameter))
                    throw new MixLoraException($"optimizer: parameter '{name}' is the same tensor as another parameter");
            }
        }
    }

    /// <summary>"adamw" or "sgd" (the config spelling).</summary>
    public abstract string Kind { get; }

    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The schedule multiplier applied to every group's base learning rate (1 until set).</summary>
    public double LearningRateScale { get; private set; } = 1.0;

    /// <summary>Number of parameters that have state (were updated at least once).</summary>
    public int StateCount => _state.Count;

    /// <summary>Sets the schedule multiplier used by the next <see cref="Step"/> (torch: group lr = base lr × multiplier).</summary>
    public void SetLearningRateScale(double scale)
    {
        if (!double.IsFinite(scale) || scale < 0)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "the learning-rate scale must be finite and ≥ 0");
        LearningRateScale = scale;
    }

    /// <summary>The learning rate the next step uses for <paramref name="group"/>.</summary>
    public double EffectiveLearningRate(ParameterGroup group) => group.LearningRate * LearningRateScale;

    /// <summary>Updates every parameter that has a gradient, in place.</summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var group in Groups)
        {
            double lr = EffectiveLearningRate(group);
            foreach (var (name, parameter) in group.Parameters)
            {
                var grad = parameter.grad;
                if (grad is null) continue;
                if (!_state.TryGetValue(name, out var state)) _state[name] = state = new ParameterState(0);
                state.Step++;
                Update(parameter, grad, state, lr);
            }
        }
    }

    /// <summary>
    /// The name of the first parameter whose gradient holds a NaN or an infinity, or null when all are finite (one
    /// host synchronisation for the common case).
    /// </summary>
    public string? FirstNonFiniteGradient()
    {
        using var scope = NewDisposeScope();
        var withGrad = _byName.Where(kv => kv.Value.grad is not null).ToList();
        if (withGrad.Count == 0) return null;
        var finite = stack(withGrad.Select(kv => isfinite(kv.Value.grad!).all()).ToArray()); // [P] bool
        if (finite.all().item<bool>()) return null;
        var flags = finite.data<bool>().ToArray();
        return withGrad[Array.IndexOf(flags, false)].Key;
    }

    /// <summary>Drops every gradient (torch's <c>zero_grad(set_to_none=True)</c>), so parameters untouched by the next backward are skipped.</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in _byName.Values) parameter.grad = null;
    }

    /// <summary>A deep copy of the current state (the caller owns and disposes it).</summary>
    public OptimizerState CaptureState() =>
        new(Kind, AllHyperparameters(), LearningRateScale, _state.ToDictionary(kv => kv.Key, kv => kv.Value.Clone()));

    /// <summary>The live state of one parameter, or null before its first update (read-only use: tests, logs).</summary>
    public ParameterState? StateOf(string name) => _state.GetValueOrDefault(name);

    /// <summary>
    /// Replaces the whole state by a copy of <paramref name="state"/> (which stays owned by the caller), including the
    /// learning-rate scale. Nothing changes when validation fails.
    /// </summary>
    /// <exception cref="MixLoraException">Another optimizer kind, other hyperparameters, an unknown parameter name,
    /// a missing or extra buffer, or a buffer whose shape or dtype differs from its parameter.</exception>
    public void LoadState(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Validate(state);
        foreach (var old in _state.Values) old.Dispose();
        _state.Clear();
        foreach (var (name, parameterState) in state.Parameters) _state[name] = parameterState.Clone();
        LearningRateScale = state.LearningRateScale;
    }

    public void Dispose()
    {
        foreach (var state in _state.Values) state.Dispose();
        _state.Clear();
        GC.SuppressFinalize(this);
    }

    /// <summary>Applies one update to <paramref name="parameter"/> (no_grad, inside a dispose scope; <paramref name="state"/>.Step already counts it).</summary>
    protected abstract void Update(Parameter parameter, Tensor grad, ParameterState state, double learningRate);

    /// <summary>The optimizer's own settings by name (betas, eps, momentum, weight decay).</summary>
    protected abstract IReadOnlyDictionary<string, double> Hyperparameters { get; }

    /// <summary>The buffer keys a parameter's state must hold.</summary>
    protected abstract IReadOnlyList<string> BufferKeys { get; }

    private Dictionary<string, double> AllHyperparameters()
    {
        var all = Hyperparameters.ToDictionary(StringComparer.Ordinal);
        foreach (var group in Groups) all[$"lr[{group.Name}]"] = group.LearningRate;
        return all;
    }

    private void Validate(OptimizerState state)
    {
        if (state.Kind != Kind)
            throw new MixLoraException($"optimizer state is for '{state.Kind}' but this optimizer is '{Kind}'");

        var ours = AllHyperparameters();
        foreach (var key in ours.Keys.Union(state.Hyperparameters.Keys).Order(StringComparer.Ordinal))
        {
            bool has = state.Hyperparameters.TryGetValue(key, out var saved);
            bool have = ours.TryGetValue(key, out var current);
            if (!has || !have || BitConverter.DoubleToInt64Bits(saved) != BitConverter.DoubleToInt64Bits(current))
                throw new MixLoraException(
                    $"optimizer state: hyperparameter '{key}' was {(has ? saved.ToString("R") : "absent")} " +
                    $"but is now {(have ? current.ToString("R") : "absent")} (an exact resume needs the same settings)");
        }

        var unknown = state.Parameters.Keys.Where(n => !_byName.ContainsKey(n)).ToList();
        if (unknown.Count > 0)
            throw new MixLoraException(
                $"optimizer state has {unknown.Count} parameter(s) this optimizer does not train, e.g. '{unknown[0]}' " +
                $"(it trains {_byName.Count} parameters, e.g. '{_byName.Keys.FirstOrDefault()}')");

        foreach (var (name, parameterState) in state.Parameters)
        {
            var parameter = _byName[name];
            if (parameterState.Step < 1)
                throw new MixLoraException($"optimizer state of '{name}': step must be ≥ 1, not {parameterState.Step}");
            var keys = parameterState.Buffers.Keys.ToList();
            if (!keys.Order(StringComparer.Ordinal).SequenceEqual(BufferKeys.Order(StringComparer.Ordinal)))
                throw new MixLoraException(
                    $"optimizer state of '{name}': buffers [{string.Join(", ", keys)}] but {Kind} needs [{string.Join(", ", BufferKeys)}]");
            foreach (var (key, buffer) in parameterState.Buffers)
            {
                if (!buffer.shape.SequenceEqual(parameter.shape) || buffer.dtype != parameter.dtype)
                    throw new MixLoraException(
                        $"optimizer state of '{name}': {key} is {buffer.dtype}[{string.Join(", ", buffer.shape)}] " +
                        $"but the parameter is {parameter.dtype}[{string.Join(", ", parameter.shape)}]");
            }
        }
    }
}
