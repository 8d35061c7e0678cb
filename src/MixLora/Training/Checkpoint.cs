using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>A checkpoint read by <see cref="CheckpointStore.Load"/>: the adapter weights and the training state. Owns its tensors.</summary>
public sealed class Checkpoint : IDisposable
{
    internal Checkpoint(string directory, OrderedDictionary<string, Tensor> adapterTensors, TrainingState state)
    {
        Directory = directory;
        AdapterTensors = adapterTensors;
        State = state;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The adapter weights by official name, in file order.</summary>
    public IReadOnlyDictionary<string, Tensor> AdapterTensors { get; }

    public TrainingState State { get; }

    /// <summary>
    /// Copies the saved weights into <paramref name="parameters"/> (an adapter's <c>NamedTensors</c>), bit for bit.
    /// </summary>
    /// <exception cref="MixLoraException">The names differ from the checkpoint's, or a shape or dtype differs.</exception>
    public void CopyAdapterTensorsInto(IEnumerable<KeyValuePair<string, Parameter>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var targets = parameters.ToList();
        var names = targets.Select(t => t.Key).ToHashSet(StringComparer.Ordinal);
        var missing = targets.Select(t => t.Key).Where(n => !AdapterTensors.ContainsKey(n)).ToList();
        var extra = AdapterTensors.Keys.Where(n => !names.Contains(n)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new MixLoraException(
                $"{Directory}: the checkpoint's adapter tensors do not match the adapter being trained " +
                $"({missing.Count} missing, e.g. '{missing.FirstOrDefault()}'; {extra.Count} unexpected, e.g. '{extra.FirstOrDefault()}')");
        foreach (var (name, parameter) in targets)
        {
            var saved = AdapterTensors[name];
            if (!saved.shape.SequenceEqual(parameter.shape) || saved.dtype != parameter.dtype)
                throw new MixLoraException(
                    $"{Directory}: adapter tensor '{name}' is {saved.dtype}[{string.Join(", ", saved.shape)}] in the checkpoint " +
                    $"but {parameter.dtype}[{string.Join(", ", parameter.shape)}] in the adapter");
        }
        using var noGrad = no_grad();
        foreach (var (name, parameter) in targets) parameter.copy_(AdapterTensors[name]);
    }

    /// <summary>Restores the optimizer state (see <see cref="Optimizer.LoadState"/>), naming this checkpoint in errors.</summary>
    /// <exception cref="MixLoraException">The optimizer does not match the saved state.</exception>
    public void RestoreOptimizer(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        try { optimizer.LoadState(State.Optimizer); }
        catch (MixLoraException ex) { throw new MixLoraException($"{Directory}: {ex.Message}", ex); }
    }

    public void Dispose()
    {
        foreach (var tensor in AdapterTensors.Values) tensor.Dispose();
        State.Dispose();
    }
}
