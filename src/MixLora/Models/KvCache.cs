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

    /// <summary>Rows in the cache (0 before the first append).</summary>
    public long BatchSize => _keys.FirstOrDefault(k => k is not null)?.shape[0] ?? 0;

    /// <summary>Keeps the batch rows <paramref name="rows"/> [R] (int64, in that order): [B, nkv, cap, hd] -> [R, nkv, cap, hd].</summary>
    public void SelectRows(Tensor rows)
    {
        using var _ = no_grad();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            Replace(ref _keys[layer], _keys[layer]?.index_select(0, rows));
            Replace(ref _values[layer], _values[layer]?.index_select(0, rows));
        }
    }

    /// <summary>
    /// Adds the rows of <paramref name="other"/> after this cache's rows. Both histories are right-aligned to the longer
    /// one (left padding), so every row's newest position stays in the last column and one append serves all rows; the
    /// caller's attention mask must mark the padded columns. <paramref name="other"/> is left unchanged.
    /// </summary>
    public void AppendRows(KvCache other)
    {
        if (other._keys.Length != _keys.Length) throw new ArgumentException("the caches have different layer counts", nameof(other));
        int length = Math.Max(Length, other.Length);
        using (no_grad())
        {
            for (int layer = 0; layer < _keys.Length; layer++)
            {
                Replace(ref _keys[layer], Joined(_keys[layer], Length, other._keys[layer], other.Length, length));
                Replace(ref _values[layer], Joined(_values[layer], Length, other._values[layer], other.Length, length));
            }
        }
        Length = length;
    }

    /// <summary>Drops the first <paramref name="count"/> positions of every row (columns that are padding in all of them).</summary>
    public void DropLeading(int count)
    {
        if (count <= 0) return;
        if (count > Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"the cache holds {Length} positions");
        using (no_grad())
        {
            for (int layer = 0; layer < _keys.Length; layer++)
            {
                Replace(ref _keys[layer], _keys[layer]?.narrow(2, count, Length - count).clone());   // [B, nkv, L, hd] -> [B, nkv, L-count, hd]
                Replace(ref _values[layer], _values[layer]?.narrow(2, count, Length - count).clone());
            }
        }
        Length -= count;
    }

    /// <summary>[B1 + B2, nkv, length, hd]: each part's filled positions end at column <paramref name="length"/>.</summary>
    private static Tensor? Joined(Tensor? first, int firstLength, Tensor? second, int secondLength, int length)
    {
        if (first is null || first.shape[0] == 0) return second is null ? null : RightAligned(second, secondLength, length);
        if (second is null || second.shape[0] == 0) return RightAligned(first, firstLength, length);
        using var a = RightAligned(first, firstLength, length);
        using var b = RightAligned(second, secondLength, length);
        return cat([a, b], 0);
    }

    private static Tensor RightAligned(Tensor buffer, int filled, int length)
    {
        var aligned = zeros([buffer.shape[0], buffer.shape[1], length, buffer.shape[3]], dtype: buffer.dtype, device: buffer.device);
        aligned.narrow(2, length - filled, filled).copy_(buffer.narrow(2, 0, filled));
        return aligned;
    }

    private static void Replace(ref Tensor? buffer, Tensor? replacement)
    {
        if (ReferenceEquals(buffer, replacement)) return;
        replacement?.DetachFromDisposeScope();
        buffer?.Dispose();
        buffer = replacement;
    }

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
