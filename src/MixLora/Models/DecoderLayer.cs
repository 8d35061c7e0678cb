using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// One pre-norm decoder layer: h += attn(norm(h)); h += ffn(norm(h)). Gemma 2/3 also norm each branch's output
/// ("sandwich" norms): h += post_attention_norm(attn(input_norm(h))); h += post_feedforward_norm(ffn(pre_feedforward_norm(h))).
/// Phi runs both branches in parallel from one norm: h += attn(input_norm(h)) + ffn(input_norm(h)). Phi-3 and Phi drop
/// out each branch's output in training (resid_pdrop).
/// </summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly List<(object Owner, IFeedForwardReplacement Block)> _replacements = [];

    /// <summary>A layer with a dense FFN (<c>mlp</c>).</summary>
    /// <param name="postAttentionNorm">The norm before the FFN; null for Phi's parallel block (its FFN reads the input norm).</param>
    public DecoderLayer(Attention attention, FeedForward feedForward, nn.Module<Tensor, Tensor> inputNorm, nn.Module<Tensor, Tensor>? postAttentionNorm)
        : this(attention, inputNorm, postAttentionNorm)
    {
        Mlp = feedForward;
        register_module("mlp", feedForward);
    }

    /// <summary>A Mixtral layer whose FFN is a sparse mixture of experts (<c>block_sparse_moe</c>).</summary>
    public DecoderLayer(Attention attention, SparseMoeFeedForward sparseMoe, nn.Module<Tensor, Tensor> inputNorm, nn.Module<Tensor, Tensor> postAttentionNorm)
        : this(attention, inputNorm, postAttentionNorm)
    {
        SparseMoe = sparseMoe;
        register_module("block_sparse_moe", sparseMoe);
    }

    private DecoderLayer(Attention attention, nn.Module<Tensor, Tensor> inputNorm, nn.Module<Tensor, Tensor>? postAttentionNorm) : base(nameof(DecoderLayer))
    {
        SelfAttention = attention;
        InputLayerNorm = inputNorm;
        PostAttentionLayerNorm = postAttentionNorm;
        register_module("self_attn", attention);
        register_module("input_layernorm", inputNorm);
        if (postAttentionNorm is not null) register_module("post_attention_layernorm", postAttentionNorm);
    }

    public Attention SelfAttention { get; }

    /// <summary>The dense FFN; null in a Mixtral layer (see <see cref="SparseMoe"/>).</summary>
    public FeedForward? Mlp { get; }

    /// <summary>The frozen mixture-of-experts FFN of a Mixtral layer; null in a dense layer.</summary>
    public SparseMoeFeedForward? SparseMoe { get; }

    /// <summary>The dense FFN, for adapters that attach to it.</summary>
    /// <exception cref="MixLoraException">The layer's FFN is a mixture of experts.</exception>
    public FeedForward DenseMlp => Mlp ?? throw NoDenseMlp();

    internal static MixLoraException NoDenseMlp() => new(
        "this model's FFN is already a mixture of experts (mixtral): adapters may target its attention projections " +
        "(q_proj, k_proj, v_proj, o_proj) only, and MixLoRA needs a dense base model");
    /// <summary>The norm before attention (RMSNorm; Phi: LayerNorm, also before the FFN).</summary>
    public nn.Module<Tensor, Tensor> InputLayerNorm { get; }

    /// <summary>
    /// The norm before the FFN (LLaMA), or after attention when the layer has sandwich norms (Gemma 2/3); null in Phi's
    /// parallel block.
    /// </summary>
    public nn.Module<Tensor, Tensor>? PostAttentionLayerNorm { get; }

    /// <summary>Gemma 2/3: the norm before the FFN; null in a LLaMA-style layer.</summary>
    public RmsNorm? PreFeedforwardLayerNorm { get; private set; }

    /// <summary>Gemma 2/3: the norm of the FFN's output; null in a LLaMA-style layer.</summary>
    public RmsNorm? PostFeedforwardLayerNorm { get; private set; }

    /// <summary>Training dropout on the attention and FFN outputs before they join the residual (Phi-3, Phi resid_pdrop).</summary>
    public double ResidualDropout { get; init; }

    /// <summary>Makes this a sandwich-norm layer (Gemma 2/3): <see cref="PostAttentionLayerNorm"/> then norms the attention output.</summary>
    internal DecoderLayer WithSandwichNorms(RmsNorm preFeedforward, RmsNorm postFeedforward)
    {
        PreFeedforwardLayerNorm = preFeedforward;
        PostFeedforwardLayerNorm = postFeedforward;
        register_module("pre_feedforward_layernorm", preFeedforward);
        register_module("post_feedforward_layernorm", postFeedforward);
        return this;
    }

    /// <summary>
    /// Blocks that take over the FFN slot (e.g. MixLoRA MoE), one per owning adapter. They receive the frozen
    /// <see cref="Mlp"/> to share its weights. With several, a forward must assign rows (<see cref="DecoderContext.Rows"/>).
    /// </summary>
    public IReadOnlyList<(object Owner, IFeedForwardReplacement Block)> MlpReplacements => _replacements;

    public void AddMlpReplacement(object owner, IFeedForwardReplacement block) => _replacements.Add((owner, block));

    public void RemoveMlpReplacement(object owner) => _replacements.RemoveAll(r => ReferenceEquals(r.Owner, owner));

    public override Tensor forward(Tensor x) =>
        throw new InvalidOperationException("DecoderLayer needs a DecoderContext; call Forward(x, context).");

    /// <summary>hidden: [B, T, H] -> [B, T, H], plus router logits [rows*T, E] of each routed block that ran.</summary>
    public DecoderLayerOutput Forward(Tensor hidden, DecoderContext context)
    {
        using var scope = NewDisposeScope();
        var routerLogits = new List<OwnedRouterLogits>();
        var input = InputLayerNorm.forward(hidden);
        var attended = Residual(SelfAttention.Forward(input, context), context);
        Tensor output;
        if (PostAttentionLayerNorm is null)
            output = hidden + attended + Residual(FeedForward(input, context, routerLogits), context); // Phi: one norm, two branches
        else
        {
            var sandwich = PreFeedforwardLayerNorm is not null;
            var h = hidden + (sandwich ? PostAttentionLayerNorm.forward(attended) : attended);
            var normed = (PreFeedforwardLayerNorm ?? PostAttentionLayerNorm).forward(h);
            var ffn = Residual(FeedForward(normed, context, routerLogits), context);
            output = h + (sandwich ? PostFeedforwardLayerNorm!.forward(ffn) : ffn);
        }
        return new DecoderLayerOutput(output.MoveToOuterDisposeScope(), routerLogits.Select(r => r with { Logits = r.Logits.MoveToOuterDisposeScope() }).ToList());
    }

    private Tensor FeedForward(Tensor normed, DecoderContext context, List<OwnedRouterLogits> routerLogits)
    {
        if (SparseMoe is not null) return SparseMoe.forward(normed);
        var mlp = DenseMlp;
        if (_replacements.Count == 0) return mlp.Forward(normed, context);
        if (context.Rows is null)
        {
            if (_replacements.Count > 1)
                throw new InvalidOperationException("several adapters replace this FFN; the forward must assign batch rows to adapters");
            return RunBlock(_replacements[0], normed, context, routerLogits);
        }
        // Fused multi-adapter batch: each adapter's rows go through its own block (or the FFN with its LoRA deltas).
        var parts = new List<Tensor>();
        int next = 0;
        foreach (var rows in context.Rows)
        {
            if (rows.Start > next) parts.Add(mlp.Forward(normed.narrow(0, next, rows.Start - next), context.ForRows(new AdapterRows(this, 0, rows.Start - next))));
            var slice = normed.narrow(0, rows.Start, rows.Count);                                 // [B_a, T, H]
            var sliceContext = context.ForRows(rows);
            var owned = _replacements.FirstOrDefault(r => ReferenceEquals(r.Owner, rows.Owner));
            parts.Add(owned.Block is null ? mlp.Forward(slice, sliceContext) : RunBlock(owned, slice, sliceContext, routerLogits));
            next = rows.Start + rows.Count;
        }
        if (next < normed.shape[0]) parts.Add(mlp.Forward(normed.narrow(0, next, normed.shape[0] - next), context.ForRows(new AdapterRows(this, 0, (int)normed.shape[0] - next))));
        return parts.Count == 1 ? parts[0] : cat(parts, 0);                                       // -> [B, T, H]
    }

    /// <summary>A branch's output on its way into the residual: dropped out in training when the family says so.</summary>
    private Tensor Residual(Tensor branch, DecoderContext context) =>
        context.Training && ResidualDropout > 0 ? nn.functional.dropout(branch, ResidualDropout, training: true) : branch;

    private Tensor RunBlock((object Owner, IFeedForwardReplacement Block) replacement, Tensor x, DecoderContext context, List<OwnedRouterLogits> routerLogits)
    {
        var (output, logits) = replacement.Block.Forward(x, DenseMlp, context);
        if (logits is not null) routerLogits.Add(new OwnedRouterLogits(replacement.Owner, logits));
        return output;
    }
}

/// <summary>A layer's hidden state [B, T, H] and the router logits of the routed blocks that ran in it.</summary>
public sealed record DecoderLayerOutput(Tensor Hidden, IReadOnlyList<OwnedRouterLogits> RouterLogits);

/// <summary>Router logits [rows*T, E] of one adapter's routed block in one layer.</summary>
public sealed record OwnedRouterLogits(object Owner, Tensor Logits);
