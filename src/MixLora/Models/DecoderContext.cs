using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Per-forward state shared by all decoder layers: rotary tables, attention masks, the KV cache and the
/// padding mask (MoE blocks use it to exclude padding from router losses). Created and disposed by the decoder.
/// </summary>
public sealed class DecoderContext
{
    private readonly Func<int?, Tensor?> _maskForWindow;

    internal DecoderContext(Tensor cos, Tensor sin, int pastLength, int queryLength, Tensor? paddingMask,
        KvCache? cache, Func<int?, Tensor?> maskForWindow)
    {
        Cos = cos;
        Sin = sin;
        PastLength = pastLength;
        QueryLength = queryLength;
        PaddingMask = paddingMask;
        Cache = cache;
        _maskForWindow = maskForWindow;
    }

    /// <summary>Rotary tables [B or 1, 1, T, hd].</summary>
    public Tensor Cos { get; }
    public Tensor Sin { get; }

    /// <summary>The rotary tables of Gemma 3's local layers (another base, no scaling); null for other families.</summary>
    public Tensor? LocalCos { get; init; }
    public Tensor? LocalSin { get; init; }
    public int PastLength { get; }
    public int QueryLength { get; }

    /// <summary>[B, past + T]: 1 for real tokens, 0 for padding; null when nothing is padded.</summary>
    public Tensor? PaddingMask { get; }
    public KvCache? Cache { get; }

    /// <summary>Whether a training-mode forward is running (dropout, router jitter).</summary>
    public bool Training { get; init; }

    /// <summary>
    /// Which batch rows belong to which adapter in a fused multi-adapter batch (sorted, non-overlapping), or null when
    /// every attached adapter applies to every row.
    /// </summary>
    public IReadOnlyList<AdapterRows>? Rows { get; init; }

    /// <summary>
    /// True while activation checkpointing recomputes a layer in the backward pass: the forward already ran once, so
    /// side effects such as routing statistics must not be recorded again.
    /// </summary>
    public bool IsRecomputation { get; init; }

    /// <summary>The rows of <paramref name="owner"/>: null = all rows (no assignment), or a range (Count 0 if absent).</summary>
    public AdapterRows? RowsOf(object owner)
    {
        if (Rows is null) return null;
        foreach (var r in Rows)
            if (ReferenceEquals(r.Owner, owner)) return r;
        return new AdapterRows(owner, 0, 0);
    }

    /// <summary>The context seen by a slice of rows (FFN dispatch): padding mask sliced, the slice owned by <paramref name="rows"/>.Owner.</summary>
    public DecoderContext ForRows(AdapterRows rows) =>
        new(Cos, Sin, PastLength, QueryLength, PaddingMask?.narrow(0, rows.Start, rows.Count), Cache, _maskForWindow)
        {
            LocalCos = LocalCos,
            LocalSin = LocalSin,
            Training = Training,
            Rows = [rows with { Start = 0 }],
            IsRecomputation = IsRecomputation,
        };

    /// <summary>The boolean mask [B or 1, 1, T, past+T] for a layer with the given sliding window, or null when plain causal attention applies.</summary>
    public Tensor? AttentionMaskFor(int? window) => _maskForWindow(window);
}
