using MixLora.Tensors;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Hands out the tensors of a loaded state dict by name and records what was missing, mis-shaped or left over,
/// so that <see cref="ThrowIfIncomplete"/> reports every problem at once (nanoGPT-style strict loading).
/// </summary>
public sealed class StateDictWeightSource : IWeightSource
{
    private readonly IDictionary<string, Tensor> _tensors;
    private readonly string _origin;
    private readonly List<string> _missing = [];
    private readonly List<string> _mismatched = [];

    /// <param name="tensors">Name -> tensor; taken tensors are removed, leftovers disposed by <see cref="ThrowIfIncomplete"/>.</param>
    /// <param name="origin">File or folder named in error messages.</param>
    public StateDictWeightSource(IDictionary<string, Tensor> tensors, string origin)
    {
        _tensors = tensors;
        _origin = origin;
    }

    public Tensor Get(string name, long[] shape)
    {
        var t = TryGet(name, shape);
        if (t is not null) return t;
        _missing.Add($"{name} {Shape.Format(shape)}");
        return zeros(shape);
    }

    public Tensor? TryGet(string name, long[] shape)
    {
        if (!_tensors.Remove(name, out var t)) return null;
        if (!t.shape.SequenceEqual(shape))
        {
            _mismatched.Add($"{name}: expected {Shape.Format(shape)}, found {Shape.Format(t.shape)}");
            t.Dispose();
            return zeros(shape);
        }
        return t;
    }

    /// <summary>Drops tensors the model does not use by design (e.g. rotary inv_freq buffers).</summary>
    public void Ignore(Func<string, bool> isIgnorable)
    {
        foreach (var name in _tensors.Keys.Where(isIgnorable).ToList())
        {
            _tensors[name].Dispose();
            _tensors.Remove(name);
        }
    }

    /// <summary>Throws one error listing missing, mis-shaped and unexpected tensors, if any.</summary>
    public void ThrowIfIncomplete()
    {
        var unexpected = _tensors.Keys.ToList();
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
        if (_missing.Count == 0 && _mismatched.Count == 0 && unexpected.Count == 0) return;
        var parts = new List<string>();
        if (_missing.Count > 0) parts.Add($"missing tensors: {Summarise(_missing)}");
        if (_mismatched.Count > 0) parts.Add($"wrong shapes: {Summarise(_mismatched)}");
        if (unexpected.Count > 0) parts.Add($"unexpected tensors: {Summarise(unexpected)}");
        throw new InvalidFileException(_origin, "weights do not fit config.json; " + string.Join("; ", parts));
    }

    private static string Summarise(List<string> items) =>
        string.Join(", ", items.Take(8)) + (items.Count > 8 ? $" … ({items.Count} in all)" : "");
}
