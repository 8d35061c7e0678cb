using MixLora.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// A decoder-only language model of one of the supported families (<see cref="ModelConfig.SupportedModelTypes"/>) with frozen weights. Module paths equal the
/// Hugging Face checkpoint names (<c>model.layers.0.self_attn.q_proj.weight</c>, ...), so <c>named_parameters()</c>
/// is the state dict.
/// </summary>
public sealed class CausalLM : nn.Module<Tensor, Tensor>
{
    private readonly DecoderStack _model;
    private readonly WeightHolder? _lmHead; // null when tied to the embedding and without a bias

    private CausalLM(ModelConfig config, DecoderStack model, Parameter? lmHead, Parameter? lmHeadBias) : base(nameof(CausalLM))
    {
        Config = config;
        _model = model;
        register_module("model", model);
        if (lmHead is not null || lmHeadBias is not null)
        {
            // A tied Phi head keeps its own bias: lm_head then holds the bias alone.
            _lmHead = new WeightHolder("lm_head", lmHead, lmHeadBias);
            register_module("lm_head", _lmHead);
        }
    }

    public ModelConfig Config { get; }

    /// <summary>The decoder layers, for adapters to attach to.</summary>
    public IReadOnlyList<DecoderLayer> Layers => _model.Layers;

    /// <summary>
    /// Recompute each decoder layer in the backward pass instead of keeping its activations (less memory, about one
    /// more forward of time). Applies to forwards with gradients enabled and no KV cache; results are unchanged.
    /// </summary>
    public bool ActivationCheckpointing { get; set; }

    /// <summary>
    /// Generators that layers draw from besides torch's global one (adapters register theirs while attached), so that
    /// a checkpointed layer's recompute replays the same random numbers.
    /// </summary>
    public ICollection<Generator> RandomSources => _model.RandomSources;

    /// <summary>The token embedding matrix [V, H].</summary>
    public Parameter EmbedTokens => _model.EmbedTokens;

    /// <summary>The output projection [V, H] (the embedding matrix when tied).</summary>
    public Tensor LmHeadWeight => _lmHead?.OptionalWeight ?? (Tensor)_model.EmbedTokens;

    /// <summary>The output projection's bias [V] (Phi), or null.</summary>
    public Tensor? LmHeadBias => _lmHead?.Bias;

    /// <summary>
    /// Hold this around the work of one decode step of <paramref name="rows"/> rows (the forward and the sampling after
    /// it): libtorch then runs on the calling thread alone while the decode kernels use the threads it had. Without
    /// it, sampling ops over [rows, V] that libtorch parallelises (argmax over 8 × 32,000 logits) wake its OpenMP
    /// threads, which keep spinning into the next step on the cores the kernels need: measured, a 3–5 ms stall at the
    /// first layer of every batch-8 step. A no-op where the kernels do not apply (more rows, gradients, other devices)
    /// and inside another such scope.
    /// </summary>
    public IDisposable DecodeStep(long rows) => Kernels.FewTokensScope.Enter(rows, LmHeadWeight);

    /// <summary>Builds the model from named weights; call <see cref="StateDictWeightSource.ThrowIfIncomplete"/> afterwards.</summary>
    public static CausalLM Create(ModelConfig config, IWeightSource weights)
    {
        var model = DecoderStack.Create(config, weights);
        Parameter? head = null, headBias = null;
        if (!config.TiedHead)
            head = new Parameter(weights.Get("lm_head.weight", [config.VocabSize, config.HiddenSize]), requires_grad: false);
        else if (weights.TryGet("lm_head.weight", [config.VocabSize, config.HiddenSize]) is { } redundant)
            redundant.Dispose(); // some tied checkpoints also store the head; the embedding is authoritative
        if (config.IsPhi) headBias = new Parameter(weights.Get("lm_head.bias", [config.VocabSize]), requires_grad: false);
        return new CausalLM(config, model, head, headBias);
    }

    /// <summary>Logits [B, T, V] for input ids [B, T] (plain full-sequence forward).</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var output = Forward(inputIds);
        return output.Logits.alias();
    }

    /// <summary>
    /// Runs the decoder. inputIds: [B, T]; attentionMask: [B, past+T] (1 = token, 0 = padding) or null;
    /// cache: appended to and advanced by T; positions: [T] or [B, T] (default past … past+T−1); rows: which batch rows
    /// belong to which attached adapter in a fused multi-adapter batch (null: every adapter applies to every row);
    /// logitPositions: [B] or [B, K] positions per row whose logits alone are computed (logits [B, 1, V] or [B, K, V];
    /// scoring a long batch at a few positions avoids the [B, T, V] tensor).
    /// </summary>
    public CausalLMOutput Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, Tensor? positions = null,
        IReadOnlyList<AdapterRows>? rows = null, Tensor? logitPositions = null)
    {
        using var scope = NewDisposeScope();
        using var fewTokens = Kernels.FewTokensScope.Enter(inputIds.numel(), LmHeadWeight);
        var decoded = ForwardHidden(inputIds, attentionMask, cache, positions, rows);
        var hidden = decoded.Hidden;
        if (logitPositions is not null)
        {
            var at = logitPositions.dim() == 1 ? logitPositions.unsqueeze(1) : logitPositions;            // [B] -> [B, 1]
            var index = at.to(ScalarType.Int64).unsqueeze(2).expand(-1, -1, hidden.shape[2]);            // [B, K] -> [B, K, H]
            hidden = hidden.gather(1, index);                                                             // [B, T, H] -> [B, K, H]
        }
        var logits = Kernels.SmallBatchLinear.Linear(hidden, LmHeadWeight, LmHeadBias).to(ScalarType.Float32); // [B, T, H] -> [B, T, V]
        if (Config.FinalSoftcap is { } cap) logits = (logits / cap).tanh_().mul_(cap);           // Gemma 2: cap·tanh(z/cap)
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), decoded.RouterLogitsByOwner.Select(r => r with { Logits = r.Logits.MoveToOuterDisposeScope() }).ToList());
    }

    /// <summary>
    /// The decoder without the LM head: the final normed hidden states [B, T, H] and the router logits (arguments as
    /// <see cref="Forward"/>). Training uses it with <c>ChunkedCausalLmLoss</c>, which never holds the [B, T, V] logits.
    /// </summary>
    public DecoderOutput ForwardHidden(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, Tensor? positions = null,
        IReadOnlyList<AdapterRows>? rows = null)
    {
        using var scope = NewDisposeScope();
        using var fewTokens = Kernels.FewTokensScope.Enter(inputIds.numel(), LmHeadWeight);
        var (hidden, routerLogits) = _model.Forward(inputIds, attentionMask, cache, positions, training, rows, ActivationCheckpointing);
        cache?.Advance((int)inputIds.shape[1]);
        return new DecoderOutput(hidden.MoveToOuterDisposeScope(), routerLogits.Select(r => r with { Logits = r.Logits.MoveToOuterDisposeScope() }).ToList());
    }

    /// <summary>Number of parameters of the base model (the tied head counted once).</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());
}
