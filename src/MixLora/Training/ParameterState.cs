using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>
/// What an optimizer remembers about one parameter: its update count and its buffers (AdamW: <c>exp_avg</c>,
/// <c>exp_avg_sq</c>; SGD with momentum: <c>momentum_buffer</c>). Owns its tensors.
/// </summary>
public sealed class ParameterState : IDisposable
{
    private readonly SortedDictionary<string, Tensor> _buffers = new(StringComparer.Ordinal);

    public ParameterState(long step) => Step = step;

    /// <summary>How many updates this parameter has received (torch's per-parameter <c>step</c>).</summary>
    public long Step { get; set; }

    /// <summary>The buffers by torch's state key, in ordinal key order.</summary>
    public IReadOnlyDictionary<string, Tensor> Buffers => _buffers;

    /// <summary>Stores <paramref name="buffer"/> (taking ownership; it leaves any dispose scope), replacing and disposing an older one.</summary>
    public void SetBuffer(string key, Tensor buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (_buffers.Remove(key, out var old) && !ReferenceEquals(old, buffer)) old.Dispose();
        _buffers[key] = buffer.DetachFromDisposeScope();
    }

    /// <summary>A deep copy (cloned buffers) that shares no memory with this one.</summary>
    public ParameterState Clone()
    {
        var copy = new ParameterState(Step);
        foreach (var (key, buffer) in _buffers)
        {
            using var _ = NewDisposeScope();
            copy.SetBuffer(key, buffer.detach().clone());
        }
        return copy;
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values) buffer.Dispose();
        _buffers.Clear();
    }
}
