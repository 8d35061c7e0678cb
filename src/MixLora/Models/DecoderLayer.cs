using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>One pre-norm decoder layer: h += attn(norm(h)); h += ffn(norm(h)).</summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    public DecoderLayer(Attention attention, FeedForward feedForward, RmsNorm inputNorm, RmsNorm postAttentionNorm)
        : base(nameof(DecoderLayer))
    {
        SelfAttention = attention;
        Mlp = feedForward;
        InputLayerNorm = inputNorm;
        PostAttentionLayerNorm = postAttentionNorm;
        register_module("self_attn", attention);
        register_module("mlp", feedForward);
        register_module("input_layernorm", inputNorm);
        register_module("post_attention_layernorm", postAttentionNorm);
    }

    public Attention SelfAttention { get; }
    public FeedForward Mlp { get; }
    public RmsNorm InputLayerNorm { get; }
    public RmsNorm PostAttentionLayerNorm { get; }

    /// <summary>When set, runs instead of <see cref="Mlp"/> (which it receives, frozen, to share weights).</summary>
    public IFeedForwardReplacement? MlpReplacement { get; set; }

    public override Tensor forward(Tensor x) =>
        throw new InvalidOperationException("DecoderLayer needs a DecoderContext; call Forward(x, context).");

    /// <summary>hidden: [B, T, H] -> [B, T, H], plus this layer's router logits when its FFN is routed.</summary>
    public DecoderLayerOutput Forward(Tensor hidden, DecoderContext context)
    {
        using var scope = NewDisposeScope();
        var h = hidden + SelfAttention.Forward(InputLayerNorm.forward(hidden), context);
        var normed = PostAttentionLayerNorm.forward(h);
        Tensor ffn;
        Tensor? routerLogits = null;
        if (MlpReplacement is null) ffn = Mlp.forward(normed);
        else (ffn, routerLogits) = MlpReplacement.Forward(normed, Mlp, context);
        var output = h + ffn;
        return new DecoderLayerOutput(output.MoveToOuterDisposeScope(), routerLogits?.MoveToOuterDisposeScope());
    }
}

/// <summary>A layer's hidden state [B, T, H] and, for MoE layers, its router logits [B*T, E].</summary>
public sealed record DecoderLayerOutput(Tensor Hidden, Tensor? RouterLogits);
