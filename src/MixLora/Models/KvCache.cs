using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Per-layer key/value cache for incremental decoding. Keys are stored after RoPE with the model's KV heads
/// (not expanded for GQA) in preallocated buffers [B, nkv, capacity, hd] that double when full, so appending a
/// token costs O(1) copies instead of re-concatenating the whole past.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly int _initialCapacity;

    public KvCache(int layers, int initialCapacity = 64)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _initialCapacity = Math.Max(1, initialCapacity);
    }

    /// <summary>Number of positions already stored (the "past" length).</summary>
    public int Length { get; private set; }

    /// <summary>Stores k, v [B, nkv, T, hd] of <paramref name="layer"/> after the past and returns views of the whole sequence [B, nkv, past+T, hd].</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        long needed = Length + t;
        EnsureCapacity(ref _keys[layer], k, needed);
        EnsureCapacity(ref _values[layer], v, needed);
        using (no_grad())
        {
            _keys[layer]!.narrow(2, Length, t).copy_(k);
            _values[layer]!.narrow(2, Length, t).copy_(v);
        }
        return (_keys[layer]!.narrow(2, 0, needed), _values[layer]!.narrow(2, 0, needed));
    }

    /// <summary>Marks the positions appended by the last forward pass as stored (call once per forward, after all layers).</summary>
    public void Advance(int positions) => Length += positions;

    private void EnsureCapacity(ref Tensor? buffer, Tensor like, long needed)
    {
        if (buffer is not null && buffer.shape[2] >= needed) return;
        long capacity = Math.Max(_initialCapacity, buffer?.shape[2] ?? 0);
        while (capacity < needed) capacity *= 2;
        var grown = zeros([like.shape[0], like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device)
            .DetachFromDisposeScope();
        if (buffer is not null)
        {
            using (no_grad()) grown.narrow(2, 0, Length).copy_(buffer.narrow(2, 0, Length));
            buffer.Dispose();
        }
        buffer = grown;
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
    }
}
