using MixLora.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>Multi-head causal self-attention with grouped-query KV heads, rotate-half RoPE and an optional sliding window.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly int _layer;
    private readonly int? _window;

    public Attention(ModelConfig config, int layer, AdaptableLinear q, AdaptableLinear k, AdaptableLinear v, AdaptableLinear o)
        : base(nameof(Attention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDim;
        _layer = layer;
        _window = config.SlidingWindowForLayer(layer);
        QProj = q; KProj = k; VProj = v; OProj = o;
        register_module("q_proj", q);
        register_module("k_proj", k);
        register_module("v_proj", v);
        register_module("o_proj", o);
    }

    public AdaptableLinear QProj { get; }
    public AdaptableLinear KProj { get; }
    public AdaptableLinear VProj { get; }
    public AdaptableLinear OProj { get; }

    public override Tensor forward(Tensor x) =>
        throw new InvalidOperationException("Attention needs a DecoderContext; call Forward(x, context).");

    /// <summary>x: [B, T, H] -> [B, T, H].</summary>
    public Tensor Forward(Tensor x, DecoderContext context)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = QProj.Forward(x, context).view(b, t, _heads, _headDim).transpose(1, 2);      // [B, T, nh*hd] -> [B, nh, T, hd]
        var k = KProj.Forward(x, context).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // [B, T, nkv*hd] -> [B, nkv, T, hd]
        var v = VProj.Forward(x, context).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // [B, T, nkv*hd] -> [B, nkv, T, hd]
        q = RotaryEmbedding.Apply(q, context.Cos, context.Sin);
        k = RotaryEmbedding.Apply(k, context.Cos, context.Sin);
        if (context.Cache is not null) (k, v) = context.Cache.Append(_layer, k, v);  // -> [B, nkv, past+T, hd]
        var mask = context.AttentionMaskFor(_window);
        Tensor attended;
        if (t == 1)
        {
            // One new token per row (decoding): the query heads that share a KV head become that head's query rows,
            // so the cache is read as it is instead of being expanded per query head (the kernel does the same on the
            // kernel threads). No causal flag: the single position sees every cached key (the mask, when there is one,
            // still applies to each row).
            int group = _heads / _kvHeads;
            var grouped = q.reshape(b, _kvHeads, group, _headDim);                  // [B, nh, 1, hd] -> [B, nkv, nh/nkv, hd]
            attended = Kernels.DecodeAttention.TryForward(q, k, v, mask)            // [B, nh, 1, hd]
                ?? (mask is null
                    ? nn.functional.scaled_dot_product_attention(grouped, k, v)
                    : nn.functional.scaled_dot_product_attention(grouped, k, v, attn_mask: mask)) // [B, nkv, nh/nkv, hd]
                    .reshape(b, _heads, 1, _headDim);                                // -> [B, nh, 1, hd]
        }
        else
        {
            if (_kvHeads != _heads)
            {
                // SDPA here has no GQA: query head h reads KV head h / (nh/nkv).
                k = k.repeat_interleave(_heads / _kvHeads, dim: 1);                  // [B, nkv, S, hd] -> [B, nh, S, hd]
                v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
            }
            attended = mask is null
                ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
                : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);  // [B, nh, T, hd]
        }
        var merged = attended.transpose(1, 2).reshape(b, t, _heads * _headDim);     // [B, nh, T, hd] -> [B, T, nh*hd]
        return OProj.Forward(merged, context).MoveToOuterDisposeScope();                     // [B, T, nh*hd] -> [B, T, H]
    }
}
