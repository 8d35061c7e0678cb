using MixLora.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>Embedding, decoder layers and final norm (the checkpoint's <c>model.*</c> prefix).</summary>
public sealed class DecoderStack : nn.Module
{
    private readonly ModuleList<DecoderLayer> _layers;
    private readonly IReadOnlyList<DecoderLayer> _layerList;
    private readonly nn.Module<Tensor, Tensor> _norm;      // RMSNorm (model.norm); Phi: LayerNorm (model.final_layernorm)
    private readonly RotaryEmbedding _rope;
    private readonly RotaryEmbedding? _localRope;   // Gemma 3's sliding-window layers
    private readonly WeightHolder _embedTokens;

    private DecoderStack(ModelConfig config, Parameter embed, List<DecoderLayer> layers, nn.Module<Tensor, Tensor> norm) : base("model")
    {
        Config = config;
        _embedTokens = new WeightHolder("embed_tokens", embed);
        _layers = new ModuleList<DecoderLayer>(layers.ToArray());
        _layerList = layers;
        _norm = norm;
        _rope = new RotaryEmbedding(config, embed.device);
        _localRope = Enumerable.Range(0, config.NumHiddenLayers).Any(config.UsesLocalRope) ? new RotaryEmbedding(config, embed.device, local: true) : null;
        register_module("embed_tokens", _embedTokens);
        register_module("layers", _layers);
        register_module(config.IsPhi ? "final_layernorm" : "norm", norm);
    }

    public ModelConfig Config { get; }
    // Parameters live only in registered submodules: TorchSharp would register a Parameter-typed field of this
    // module a second time under the field's own name.
    public Parameter EmbedTokens => _embedTokens.Weight;
    public IReadOnlyList<DecoderLayer> Layers => _layerList;

    /// <summary>Generators a forward draws from besides torch's global one (see <see cref="CausalLM.RandomSources"/>).</summary>
    public List<Generator> RandomSources { get; } = [];

    internal static DecoderStack Create(ModelConfig c, IWeightSource w)
    {
        long h = c.HiddenSize, i = c.IntermediateSize, hd = c.HeadDim;
        long qOut = c.NumAttentionHeads * hd, kvOut = c.KeyValueHeads * hd;
        var embed = new Parameter(w.Get("model.embed_tokens.weight", [c.VocabSize, h]), requires_grad: false);
        var layers = new List<DecoderLayer>();
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            AdaptableLinear Linear(string name, long outF, long inF, bool bias) =>
                new(w.Get(p + name + ".weight", [outF, inF]), bias ? w.Get(p + name + ".bias", [outF]) : null);
            RmsNorm Norm(string name, long size) => new(w.Get(p + name + ".weight", [size]), c.NormEps, c.NormAddsOne);
            // Read in checkpoint order (attention, FFN, norms): a seeded random source gives the same model as before.
            var attention = CreateAttention(c, l, Linear, Norm);
            SparseMoeFeedForward? moe = null;
            FeedForward? mlp = null;
            FeedForward GatedFfn(string prefix, (string Gate, string Up, string Down) names, bool bias) => new(
                Linear(prefix + names.Gate, i, h, bias), Linear(prefix + names.Up, i, h, bias), Linear(prefix + names.Down, h, i, bias),
                c.Activation, names);
            if (c.IsSparseMoe)
            {
                var router = new Parameter(w.Get(p + "block_sparse_moe.gate.weight", [c.LocalExperts, h]), requires_grad: false);
                var experts = Enumerable.Range(0, c.LocalExperts)
                    .Select(e => GatedFfn($"block_sparse_moe.experts.{e}.", FeedForward.MixtralExpertNames, bias: false)).ToList();
                moe = new SparseMoeFeedForward(router, experts, c.ExpertsPerToken);
            }
            else if (c.HasFusedProjections)
                mlp = FeedForward.WithFusedGateUp(Linear("mlp.gate_up_proj", 2 * i, h, false), Linear("mlp.down_proj", h, i, false), c.Activation);
            else if (c.IsPhi)
                mlp = FeedForward.Ungated(Linear("mlp.fc1", i, h, true), Linear("mlp.fc2", h, i, true), c.Activation);
            else
                mlp = GatedFfn("mlp.", FeedForward.LlamaNames, c.FeedForwardBias);
            if (c.IsPhi)
            {
                layers.Add(new DecoderLayer(attention, mlp!, PhiLayerNorm(w, p + "input_layernorm", c), null) { ResidualDropout = c.ResidualDropout });
                continue;
            }
            var inputNorm = Norm("input_layernorm", h);
            var postAttentionNorm = Norm("post_attention_layernorm", h);
            var layer = moe is not null
                ? new DecoderLayer(attention, moe, inputNorm, postAttentionNorm)
                : new DecoderLayer(attention, mlp!, inputNorm, postAttentionNorm) { ResidualDropout = c.ResidualDropout };
            layers.Add(c.HasSandwichNorms ? layer.WithSandwichNorms(Norm("pre_feedforward_layernorm", h), Norm("post_feedforward_layernorm", h)) : layer);
        }
        nn.Module<Tensor, Tensor> norm = c.IsPhi
            ? PhiLayerNorm(w, "model.final_layernorm", c)
            : new RmsNorm(w.Get("model.norm.weight", [h]), c.NormEps, c.NormAddsOne);
        return new DecoderStack(c, embed, layers, norm);
    }

    /// <summary>The family's attention: separate q/k/v (with q/k norms for Qwen3 and Gemma 3), Phi-3's fused qkv_proj, or Phi's with dense.</summary>
    private static Attention CreateAttention(ModelConfig c, int layer, Func<string, long, long, bool, AdaptableLinear> linear, Func<string, long, RmsNorm> norm)
    {
        long h = c.HiddenSize, hd = c.HeadDim, qOut = c.NumAttentionHeads * hd, kvOut = c.KeyValueHeads * hd;
        if (c.HasFusedProjections)
            return new Attention(c, layer, linear("self_attn.qkv_proj", qOut + 2 * kvOut, h, false), linear("self_attn.o_proj", h, qOut, false));
        var (q, k, v) = (linear("self_attn.q_proj", qOut, h, c.QkvBias), linear("self_attn.k_proj", kvOut, h, c.QkvBias), linear("self_attn.v_proj", kvOut, h, c.QkvBias));
        string outputName = c.IsPhi ? "dense" : "o_proj";
        var o = linear("self_attn." + outputName, h, qOut, c.OutputProjectionBias);
        return c.HasQkNorm
            ? new Attention(c, layer, q, k, v, o, norm("self_attn.q_norm", hd), norm("self_attn.k_norm", hd))
            : new Attention(c, layer, q, k, v, o, outputName: outputName);
    }

    private static LayerNorm PhiLayerNorm(IWeightSource w, string name, ModelConfig c) =>
        new(w.Get(name + ".weight", [c.HiddenSize]), w.Get(name + ".bias", [c.HiddenSize]), c.NormEps);

    /// <summary>
    /// inputIds [B, T] -> final hidden states [B, T, H] and the router logits of routed layers. With
    /// <paramref name="checkpointing"/> (and gradients on, no KV cache) each layer keeps only its input for the backward
    /// and is recomputed there.
    /// </summary>
    internal (Tensor Hidden, List<OwnedRouterLogits> RouterLogits) Forward(Tensor inputIds, Tensor? paddingMask, KvCache? cache, Tensor? positions, bool training,
        IReadOnlyList<AdapterRows>? rows, bool checkpointing = false)
    {
        if (inputIds.dim() != 2) throw new ArgumentException($"input ids must be [B, T], got [{string.Join(", ", inputIds.shape)}]");
        int past = cache?.Length ?? 0;
        int t = (int)inputIds.shape[1];
        var device = EmbedTokens.device;
        var hidden = EmbedTokens.index_select(0, inputIds.flatten()).view(inputIds.shape[0], t, -1); // [B, T] -> [B, T, H]
        // Gemma scales the embeddings by √H, the factor rounded to the compute dtype first as HF does.
        if (Config.ScalesEmbeddings) hidden = hidden * tensor(Math.Sqrt(Config.HiddenSize), dtype: ScalarType.Float32, device: device).to(hidden.dtype);
        if (training && Config.IsPhi && Config.EmbeddingDropout > 0) hidden = nn.functional.dropout(hidden, Config.EmbeddingDropout, training: true);
        positions ??= arange(past, past + t, dtype: ScalarType.Int64, device: device);
        var (cos, sin) = _rope.Tables(positions, hidden.dtype);
        var (localCos, localSin) = _localRope is null ? (null, null) : _localRope.Tables(positions, hidden.dtype);
        bool needsPadding = paddingMask is not null && paddingMask.eq(0).any().item<bool>();
        // Masks are built here, once per distinct window, so they live in the caller's dispose scope for all layers.
        // Plain causal attention over a fresh sequence needs no explicit mask (SDPA's is_causal).
        var masks = new Dictionary<int, Tensor>();
        for (int l = 0; l < _layerList.Count; l++)
        {
            int? window = Config.SlidingWindowForLayer(l);
            if (!needsPadding && past == 0 && window is null) continue;
            int key = window ?? -1;
            if (!masks.ContainsKey(key)) masks[key] = AttentionMask.Build(past, t, needsPadding ? paddingMask : null, window, device);
        }
        Tensor? MaskFor(int? window) => masks.TryGetValue(window ?? -1, out var mask) ? mask : null;
        var context = new DecoderContext(cos, sin, past, t, paddingMask, cache, MaskFor)
        {
            LocalCos = localCos, LocalSin = localSin, Training = training, Rows = rows,
        };
        var routerLogits = new List<OwnedRouterLogits>();
        bool recomputeInBackward = checkpointing && is_grad_enabled() && cache is null;
        IReadOnlyList<Generator?> generators = [null, .. RandomSources];                  // null: torch's global generator
        using var gradAnchor = recomputeInBackward ? empty(0, requires_grad: true) : null;
        var handoff = new CheckpointedLayer.GradientHandoff();
        for (int l = 0; l < _layerList.Count; l++)
        {
            var output = recomputeInBackward
                ? CheckpointedLayer.Run(_layerList[l], hidden, context, Config.SlidingWindowForLayer(l), generators, gradAnchor!, handoff)
                : _layerList[l].Forward(hidden, context);
            hidden = output.Hidden;
            routerLogits.AddRange(output.RouterLogits);
        }
        return (_norm.forward(hidden), routerLogits);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _rope.Dispose();
            _localRope?.Dispose();
        }
        base.Dispose(disposing);
    }
}
