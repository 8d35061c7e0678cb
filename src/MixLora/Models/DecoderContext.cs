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
    public int PastLength { get; }
    public int QueryLength { get; }

    /// <summary>[B, past + T]: 1 for real tokens, 0 for padding; null when nothing is padded.</summary>
    public Tensor? PaddingMask { get; }
    public KvCache? Cache { get; }

    /// <summary>Whether a training-mode forward is running (dropout, router jitter).</summary>
    public bool Training { get; init; }

    /// <summary>The boolean mask [B or 1, 1, T, past+T] for a layer with the given sliding window, or null when plain causal attention applies.</summary>
    public Tensor? AttentionMaskFor(int? window) => _maskForWindow(window);
}
