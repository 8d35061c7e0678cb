using MixLora.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Multi-head causal self-attention with grouped-query KV heads, rotate-half RoPE and an optional sliding window;
/// per family: RMSNorm of each query and key head before RoPE (Qwen3, Gemma 3), a score scale other than
/// head_dim^−½ and soft-capped scores (Gemma 2/3), a local RoPE on sliding-window layers (Gemma 3), one fused q/k/v
/// projection (Phi-3) and RoPE on the leading part of each head only (Phi-3, Phi: the cos/sin tables are that wide).
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly int _layer;
    private readonly int? _window;
    private readonly bool _localRope;
    private readonly double _scale;
    private readonly double? _softcap;

    /// <param name="outputName">The output projection's checkpoint name: o_proj, or Phi's dense.</param>
    public Attention(ModelConfig config, int layer, AdaptableLinear q, AdaptableLinear k, AdaptableLinear v, AdaptableLinear o,
        RmsNorm? qNorm = null, RmsNorm? kNorm = null, string outputName = "o_proj")
        : this(config, layer, o)
    {
        QProj = q; KProj = k; VProj = v;
        QNorm = qNorm; KNorm = kNorm;
        register_module("q_proj", q);
        register_module("k_proj", k);
        register_module("v_proj", v);
        register_module(outputName, o);
        if (qNorm is not null) register_module("q_norm", qNorm);
        if (kNorm is not null) register_module("k_norm", kNorm);
    }

    /// <summary>Phi-3: one <c>qkv_proj</c> [nh·hd + 2·nkv·hd, H] whose rows are the queries, then the keys, then the values.</summary>
    public Attention(ModelConfig config, int layer, AdaptableLinear qkv, AdaptableLinear o) : this(config, layer, o)
    {
        long expected = (long)(config.NumAttentionHeads + 2 * config.KeyValueHeads) * config.HeadDim;
        if (qkv.OutFeatures != expected) throw new ArgumentException($"qkv_proj must have {expected} rows, got {qkv.OutFeatures}");
        QkvProj = qkv;
        register_module("qkv_proj", qkv);
        register_module("o_proj", o);
    }

    private Attention(ModelConfig config, int layer, AdaptableLinear o) : base(nameof(Attention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDim;
        _layer = layer;
        _window = config.SlidingWindowForLayer(layer);
        _localRope = config.UsesLocalRope(layer);
        _scale = config.AttentionScale;
        _softcap = config.AttentionSoftcap;
        OProj = o;
    }

    /// <summary>Per-head RMSNorm of the queries and keys before RoPE (Qwen3, Gemma 3), or null.</summary>
    public RmsNorm? QNorm { get; }
    public RmsNorm? KNorm { get; }

    /// <summary>The query, key and value projections; null when they are fused (<see cref="QkvProj"/>).</summary>
    public AdaptableLinear? QProj { get; }
    public AdaptableLinear? KProj { get; }
    public AdaptableLinear? VProj { get; }

    /// <summary>Phi-3's fused query/key/value projection; null when they are separate.</summary>
    public AdaptableLinear? QkvProj { get; }

    /// <summary>The output projection (o_proj; Phi's dense).</summary>
    public AdaptableLinear OProj { get; }

    public override Tensor forward(Tensor x) =>
        throw new InvalidOperationException("Attention needs a DecoderContext; call Forward(x, context).");

    /// <summary>x: [B, T, H] -> [B, T, H].</summary>
    public Tensor Forward(Tensor x, DecoderContext context)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var (qFlat, kFlat, vFlat) = Project(x, context);
        var q = qFlat.view(b, t, _heads, _headDim);                                          // [B, T, nh*hd] -> [B, T, nh, hd]
        var k = kFlat.view(b, t, _kvHeads, _headDim);                                        // [B, T, nkv*hd] -> [B, T, nkv, hd]
        var v = vFlat.view(b, t, _kvHeads, _headDim).transpose(1, 2);                        // [B, T, nkv*hd] -> [B, nkv, T, hd]
        if (QNorm is not null) q = QNorm.forward(q);                                         // over hd, per head
        if (KNorm is not null) k = KNorm.forward(k);
        q = q.transpose(1, 2);                                                               // -> [B, nh, T, hd]
        k = k.transpose(1, 2);                                                               // -> [B, nkv, T, hd]
        var (cos, sin) = _localRope ? (context.LocalCos!, context.LocalSin!) : (context.Cos, context.Sin);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (context.Cache is not null) (k, v) = context.Cache.Append(_layer, k, v);  // -> [B, nkv, past+T, hd]
        var mask = context.AttentionMaskFor(_window);
        Tensor attended;
        if (t == 1 && Kernels.DecodeAttention.TryForward(q, k, v, mask, _scale, _softcap) is { } decoded)
            attended = decoded;                                                      // [B, nh, 1, hd]
        else if (_softcap is not null)
            attended = EagerAttention(q, k, v, mask ?? AttentionMask.Build(context.PastLength, (int)t, null, null, x.device));
        else if (t == 1)
        {
            // One new token per row (decoding): the query heads that share a KV head become that head's query rows,
            // so the cache is read as it is instead of being expanded per query head. No causal flag: the single
            // position sees every cached key (the mask, when there is one, still applies to each row).
            var grouped = ScaledForSdpa(q).reshape(b, _kvHeads, _heads / _kvHeads, _headDim);   // [B, nh, 1, hd] -> [B, nkv, nh/nkv, hd]
            attended = (mask is null
                    ? nn.functional.scaled_dot_product_attention(grouped, k, v)
                    : nn.functional.scaled_dot_product_attention(grouped, k, v, attn_mask: mask)) // [B, nkv, nh/nkv, hd]
                .reshape(b, _heads, 1, _headDim);                                    // -> [B, nh, 1, hd]
        }
        else
        {
            var (kx, vx) = ExpandKvHeads(k, v);
            attended = mask is null
                ? nn.functional.scaled_dot_product_attention(ScaledForSdpa(q), kx, vx, is_casual: true)
                : nn.functional.scaled_dot_product_attention(ScaledForSdpa(q), kx, vx, attn_mask: mask);  // [B, nh, T, hd]
        }
        var merged = attended.transpose(1, 2).reshape(b, t, _heads * _headDim);     // [B, nh, T, hd] -> [B, T, nh*hd]
        return OProj.Forward(merged, context).MoveToOuterDisposeScope();                     // [B, T, nh*hd] -> [B, T, H]
    }

    /// <summary>x [B, T, H] -> queries [B, T, nh·hd], keys and values [B, T, nkv·hd] (column views of one product when fused).</summary>
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x, DecoderContext context)
    {
        if (QkvProj is null) return (QProj!.Forward(x, context), KProj!.Forward(x, context), VProj!.Forward(x, context));
        long qOut = (long)_heads * _headDim, kvOut = (long)_kvHeads * _headDim;
        var qkv = QkvProj.Forward(x, context);                                               // [B, T, H] -> [B, T, nh*hd + 2*nkv*hd]
        return (qkv.narrow(-1, 0, qOut), qkv.narrow(-1, qOut, kvOut), qkv.narrow(-1, qOut + kvOut, kvOut));
    }

    /// <summary>
    /// libtorch's SDPA (in this TorchSharp) always scales by head_dim^−½: a family with another scale (Gemma 2/3's
    /// query_pre_attn_scalar) gets its queries pre-multiplied so the product comes out right.
    /// </summary>
    private Tensor ScaledForSdpa(Tensor q)
    {
        double correction = _scale * Math.Sqrt(_headDim);
        return Math.Abs(correction - 1) < 1e-12 ? q : q * correction;
    }

    /// <summary>SDPA here has no GQA: query head h reads KV head h / (nh/nkv). [B, nkv, S, hd] -> [B, nh, S, hd].</summary>
    private (Tensor K, Tensor V) ExpandKvHeads(Tensor k, Tensor v) => _kvHeads == _heads
        ? (k, v)
        : (k.repeat_interleave(_heads / _kvHeads, dim: 1), v.repeat_interleave(_heads / _kvHeads, dim: 1));

    /// <summary>
    /// Attention written out, for soft-capped scores (SDPA cannot cap): s = scale·q·kᵀ, s = cap·tanh(s/cap), masked
    /// keys −∞, softmax in fp32, times v. q [B, nh, T, hd], k/v [B, nkv, S, hd], mask [B or 1, 1, T, S] -> [B, nh, T, hd].
    /// </summary>
    private Tensor EagerAttention(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var (kx, vx) = ExpandKvHeads(k, v);
        var scores = matmul(q, kx.transpose(-2, -1)) * _scale;                                 // [B, nh, T, S]
        scores = (scores / _softcap!.Value).tanh() * _softcap.Value;
        scores = scores.masked_fill(mask.logical_not(), float.NegativeInfinity);
        var probabilities = scores.to(ScalarType.Float32).softmax(-1).to(v.dtype);
        return matmul(probabilities, vx).MoveToOuterDisposeScope();                           // [B, nh, T, hd]
    }
}
