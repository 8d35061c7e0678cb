using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Serving;

/// <summary>
/// The rows being decoded together and their shared KV cache. Rows of different lengths are left-padded: every row's
/// newest position is the cache's last column, so one step appends one column for all rows, and the attention mask
/// [B, L] hides each row's padding. Rows stay grouped by owner (adapter), because a fused batch gives each adapter a
/// contiguous slice of rows. Joining or leaving costs one copy of the cache; a decode step never re-prefills a row.
/// </summary>
internal sealed class DecodeBatch : IDisposable
{
    private readonly KvCache _cache;
    private readonly List<ActiveSequence> _rows = [];
    private Tensor _mask;                                   // [B, L] int64, 1 = a real position
    private readonly Device _device;

    public DecodeBatch(int layers, Device device)
    {
        _cache = new KvCache(layers);
        _device = device;
        _mask = zeros(0, 0, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
    }

    public IReadOnlyList<ActiveSequence> Rows => _rows;

    /// <summary>Adds a prefilled sequence (its own cache of one row) and regroups the rows by owner.</summary>
    public void Join(ActiveSequence sequence, KvCache prefilled, IReadOnlyList<object> ownerOrder)
    {
        using var scope = NewDisposeScope();
        int before = _cache.Length;
        _cache.AppendRows(prefilled);
        int length = _cache.Length;
        var old = nn.functional.pad(_mask, [length - before, 0]);                              // [B, L] -> [B, L']
        var added = nn.functional.pad(ones(1, prefilled.Length, dtype: ScalarType.Int64, device: _device), [length - prefilled.Length, 0]); // [1, P] -> [1, L']
        SetMask(cat([old, added], 0));                                                         // [B+1, L']
        _rows.Add(sequence);
        var order = Enumerable.Range(0, _rows.Count).OrderBy(i => OwnerRank(_rows[i].Owner, ownerOrder)).ToArray(); // stable
        if (order.Select((row, i) => row != i).Any(moved => moved)) Keep(order);
    }

    /// <summary>Removes the rows whose sequences ended, and the leading columns no remaining row uses.</summary>
    public void RemoveFinished()
    {
        if (_rows.All(r => r.FinishReason is null)) return;
        using var scope = NewDisposeScope();
        Keep(Enumerable.Range(0, _rows.Count).Where(i => _rows[i].FinishReason is null).ToArray());
        if (_rows.Count == 0)
        {
            _cache.SelectRows(zeros(0, dtype: ScalarType.Int64, device: _device));
            _cache.DropLeading(_cache.Length);
            SetMask(zeros(0, 0, dtype: ScalarType.Int64, device: _device));
            return;
        }
        // Columns before every row's first real position: argmax finds the first 1 of each row.
        int unused = (int)_mask.argmax(1).min().item<long>();
        if (unused > 0)
        {
            _cache.DropLeading(unused);
            SetMask(_mask.narrow(1, unused, _mask.shape[1] - unused));
        }
    }

    /// <summary>
    /// Feeds each row's last sampled token and returns the next-token logits [B, V] (fp32); the caller disposes them.
    /// </summary>
    public Tensor Step(CausalLM model)
    {
        using var scope = NewDisposeScope();
        int batch = _rows.Count;
        var ids = tensor(_rows.Select(r => (long)r.Ids[^1]).ToArray(), device: _device).view(batch, 1);          // [B, 1]
        var positions = tensor(_rows.Select(r => (long)r.NextPosition).ToArray(), device: _device).view(batch, 1); // [B, 1]
        SetMask(cat([_mask, ones(batch, 1, dtype: ScalarType.Int64, device: _device)], 1));  // [B, L] -> [B, L+1]
        using var output = model.Forward(ids, _mask, _cache, positions, AdapterRowsOf(_rows));
        return output.Logits.squeeze(1).MoveToOuterDisposeScope();                            // [B, 1, V] -> [B, V]
    }

    /// <summary>Contiguous row ranges per owner, in row order (rows are kept grouped by owner).</summary>
    public static IReadOnlyList<AdapterRows> AdapterRowsOf(IReadOnlyList<ActiveSequence> rows)
    {
        var result = new List<AdapterRows>();
        for (int start = 0; start < rows.Count;)
        {
            int end = start;
            while (end < rows.Count && ReferenceEquals(rows[end].Owner, rows[start].Owner)) end++;
            result.Add(new AdapterRows(rows[start].Owner, start, end - start));
            start = end;
        }
        return result;
    }

    private void Keep(int[] rows)
    {
        var index = tensor(rows.Select(i => (long)i).ToArray(), device: _device);
        _cache.SelectRows(index);
        SetMask(_mask.index_select(0, index));                                                 // [B, L] -> [R, L]
        var kept = rows.Select(i => _rows[i]).ToList();
        _rows.Clear();
        _rows.AddRange(kept);
    }

    private static int OwnerRank(object owner, IReadOnlyList<object> order)
    {
        for (int i = 0; i < order.Count; i++) if (ReferenceEquals(order[i], owner)) return i;
        return order.Count;
    }

    private void SetMask(Tensor mask)
    {
        mask.DetachFromDisposeScope();
        _mask.Dispose();
        _mask = mask;
    }

    public void Dispose()
    {
        _cache.Dispose();
        _mask.Dispose();
    }
}
