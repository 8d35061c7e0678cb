using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// The keys only some families read, and what each family makes of the shared ones. Defaults follow the Hugging Face
/// configuration classes (Qwen3Config, GemmaConfig, Gemma2Config, Gemma3TextConfig, Phi3Config, PhiConfig).
/// </summary>
public sealed partial record ModelConfig
{
    /// <summary>Gemma: the FFN activation (gemma falls back to gelu_pytorch_tanh when absent, as HF does).</summary>
    [JsonPropertyName("hidden_activation")] public string? HiddenActivation { get; init; }

    /// <summary>Gemma 2/3: attention scores are scaled by query_pre_attn_scalar^−½ instead of head_dim^−½.</summary>
    [JsonPropertyName("query_pre_attn_scalar")] public double? QueryPreAttnScalar { get; init; }

    /// <summary>
    /// Gemma 2/3: cap·tanh(score/cap) on attention scores. Absent: 50 for gemma2, none for gemma3_text; an explicit
    /// null switches it off (hence a raw element: absent and null differ).
    /// </summary>
    [JsonPropertyName("attn_logit_softcapping"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public JsonElement AttnLogitSoftcapping { get; init; }

    /// <summary>Gemma 2/3: cap·tanh(logit/cap) on the output logits. Absent: 30 for gemma2, none for gemma3_text.</summary>
    [JsonPropertyName("final_logit_softcapping"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public JsonElement FinalLogitSoftcapping { get; init; }

    /// <summary>Per layer "sliding_attention" or "full_attention" (newer Gemma 2/3 and Qwen3 files).</summary>
    [JsonPropertyName("layer_types")] public IReadOnlyList<string>? LayerTypes { get; init; }

    /// <summary>Gemma 3 (older files): every pattern-th layer is global, the others local (default 6).</summary>
    [JsonPropertyName("sliding_window_pattern")] public int? SlidingWindowPattern { get; init; }

    /// <summary>Gemma 3: the RoPE base of the local (sliding-window) layers, which use no rope scaling (default 10,000).</summary>
    [JsonPropertyName("rope_local_base_freq")] public double? RopeLocalBaseFreq { get; init; }

    /// <summary>Phi-3 and Phi: the share of each head that RoPE rotates (absent: 0.5 for phi, 1 for phi3); the rest passes through.</summary>
    [JsonPropertyName("partial_rotary_factor")] public double? PartialRotaryFactor { get; init; }

    /// <summary>Phi-3: the pretraining context length; LongRoPE uses its long factors for sequences beyond it.</summary>
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>Phi: the LayerNorm epsilon (default 1e-5).</summary>
    [JsonPropertyName("layer_norm_eps")] public double? LayerNormEps { get; init; }

    /// <summary>Phi: LayerNorm of each q and k head; true is refused (no released Phi uses it).</summary>
    [JsonPropertyName("qk_layernorm")] public bool? QkLayernorm { get; init; }

    /// <summary>Phi-3 and Phi: dropout on each block's attention and FFN outputs in training (default 0).</summary>
    [JsonPropertyName("resid_pdrop")] public double? ResidPdrop { get; init; }

    /// <summary>Phi-3 and Phi: dropout on the embeddings in training (default 0).</summary>
    [JsonPropertyName("embd_pdrop")] public double? EmbdPdrop { get; init; }

    [JsonIgnore] public bool IsGemma => ModelType is "gemma" or "gemma2" or "gemma3_text";

    /// <summary>The FFN activation: Gemma's hidden_activation, else hidden_act (Phi's default gelu_new).</summary>
    [JsonIgnore] public string Activation => IsGemma ? HiddenActivation ?? "gelu_pytorch_tanh" : HiddenAct ?? (IsPhi ? "gelu_new" : "silu");

    /// <summary>The norm epsilon: Phi's layer_norm_eps, else rms_norm_eps (absent: 1e-5 for phi3 and phi, else 1e-6).</summary>
    [JsonIgnore] public double NormEps => ModelType == "phi" ? LayerNormEps ?? 1e-5 : RmsNormEps ?? (ModelType == "phi3" ? 1e-5 : 1e-6);

    /// <summary>Phi: LayerNorm with bias, attention and FFN in parallel from one norm, fc1/fc2 FFN, biased LM head.</summary>
    [JsonIgnore] public bool IsPhi => ModelType == "phi";

    /// <summary>Phi-3: fused qkv_proj and gate_up_proj.</summary>
    [JsonIgnore] public bool HasFusedProjections => ModelType == "phi3";

    /// <summary>How many leading dimensions of each head RoPE rotates: head_dim × partial_rotary_factor, rounded down as HF does.</summary>
    [JsonIgnore] public int RotaryDim => (int)(HeadDim * (PartialRotaryFactor ?? (IsPhi ? 0.5 : 1.0)));

    /// <summary>Phi-3 LongRoPE's switch point: original_max_position_embeddings (Phi3Config's default 4096).</summary>
    [JsonIgnore] public int LongRopeSwitchLength => OriginalMaxPositionEmbeddings ?? 4096;

    /// <summary>
    /// Phi-3 LongRoPE's cos/sin multiplier: rope_scaling.attention_factor, else HF's default for Phi-3,
    /// √(1 + ln s / ln original) with s = max_position_embeddings / original_max_position_embeddings (1 when s ≤ 1);
    /// null without LongRoPE.
    /// </summary>
    [JsonIgnore] public double? LongRopeAttentionFactor => RopeScaling is { EffectiveType: "longrope" } longRope
        ? longRope.AttentionFactor ?? DefaultLongRopeAttentionFactor
        : null;

    private double DefaultLongRopeAttentionFactor
    {
        get
        {
            double scale = (double)MaxPositionEmbeddings / LongRopeSwitchLength;
            return scale <= 1 ? 1 : Math.Sqrt(1 + Math.Log(scale) / Math.Log(LongRopeSwitchLength));
        }
    }

    /// <summary>Training dropout on each block's outputs (Phi-3, Phi).</summary>
    [JsonIgnore] public double ResidualDropout => ResidPdrop ?? 0;

    /// <summary>Training dropout on the embeddings (Phi-3, Phi).</summary>
    [JsonIgnore] public double EmbeddingDropout => EmbdPdrop ?? 0;

    /// <summary>The RoPE base of the global layers.</summary>
    [JsonIgnore] public double RopeBase => RopeTheta ?? (ModelType == "gemma3_text" ? 1_000_000 : 10_000);

    /// <summary>Whether the LM head is the embedding matrix.</summary>
    [JsonIgnore] public bool TiedHead => TieWordEmbeddings ?? IsGemma;

    /// <summary>Gemma: RMSNorm multiplies by (1 + w) instead of w (the checkpoint stores w around zero).</summary>
    [JsonIgnore] public bool NormAddsOne => IsGemma;

    /// <summary>Gemma: the embeddings are multiplied by √hidden_size.</summary>
    [JsonIgnore] public bool ScalesEmbeddings => IsGemma;

    /// <summary>Qwen3 and Gemma 3: RMSNorm over each head of q and k (q_norm, k_norm) before RoPE.</summary>
    [JsonIgnore] public bool HasQkNorm => ModelType is "qwen3" or "gemma3_text";

    /// <summary>Gemma 2/3: norms after attention and after the FFN too (pre_feedforward_layernorm, post_feedforward_layernorm).</summary>
    [JsonIgnore] public bool HasSandwichNorms => ModelType is "gemma2" or "gemma3_text";

    /// <summary>The factor on q·k: query_pre_attn_scalar^−½ for Gemma 2/3 (defaults 224 and 256), else head_dim^−½.</summary>
    [JsonIgnore] public double AttentionScale => ModelType switch
    {
        "gemma2" => 1 / Math.Sqrt(QueryPreAttnScalar ?? 224),
        "gemma3_text" => 1 / Math.Sqrt(QueryPreAttnScalar ?? 256),
        _ => 1 / Math.Sqrt(HeadDim),
    };

    /// <summary>The attention-score soft cap, or null.</summary>
    [JsonIgnore] public double? AttentionSoftcap => Softcap(AttnLogitSoftcapping, ModelType == "gemma2" ? 50 : null);

    /// <summary>The output-logit soft cap, or null.</summary>
    [JsonIgnore] public double? FinalSoftcap => Softcap(FinalLogitSoftcapping, ModelType == "gemma2" ? 30 : null);

    private int? FamilyHeadDim => ModelType switch
    {
        "gemma" or "gemma2" or "gemma3_text" => 256,
        "qwen3" => 128,
        _ => null,
    };

    private int? Window => SlidingWindow ?? (ModelType is "gemma2" or "gemma3_text" or "qwen3" ? 4096 : null);

    /// <summary>The sliding attention window of layer <paramref name="layer"/>, or null for full causal attention.</summary>
    public int? SlidingWindowForLayer(int layer)
    {
        if (LayerTypes is { } types && ModelType is "gemma2" or "gemma3_text" or "qwen3")
            return types[layer] == "sliding_attention" && (ModelType != "qwen3" || UseSlidingWindow == true) ? Window : null;
        return ModelType switch
        {
            "mistral" or "mixtral" or "phi3" => SlidingWindow,
            "qwen2" or "qwen3" when UseSlidingWindow == true && layer >= (MaxWindowLayers ?? (ModelType == "qwen3" ? 28 : 0)) => Window,
            "gemma2" when layer % 2 == 0 => Window,
            "gemma3_text" when (layer + 1) % (SlidingWindowPattern ?? 6) != 0 => Window,
            _ => null,
        };
    }

    /// <summary>Each layer's sliding window (null: full causal attention), in layer order.</summary>
    [JsonIgnore] public IReadOnlyList<int?> LayerWindows => Enumerable.Range(0, NumHiddenLayers).Select(SlidingWindowForLayer).ToList();

    /// <summary>
    /// Gemma 3 rotates its local (sliding-window) layers with rope_local_base_freq and no scaling, its global layers
    /// with rope_theta and rope_scaling; every other family uses one RoPE everywhere.
    /// </summary>
    public bool UsesLocalRope(int layer) => ModelType == "gemma3_text" && SlidingWindowForLayer(layer) is not null;

    /// <summary>The RoPE base of the local layers (see <see cref="UsesLocalRope"/>).</summary>
    [JsonIgnore] public double LocalRopeBase => RopeLocalBaseFreq ?? 10_000;

    private static double? Softcap(JsonElement element, double? absent) => element.ValueKind switch
    {
        JsonValueKind.Undefined => absent,
        JsonValueKind.Null => null,
        JsonValueKind.Number => element.GetDouble(),
        _ => double.NaN, // rejected by ValidateFamily
    };

    private void ValidateFamily(string file)
    {
        foreach (var (key, element) in new[] { ("attn_logit_softcapping", AttnLogitSoftcapping), ("final_logit_softcapping", FinalLogitSoftcapping) })
            if (element.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null) && !(element.ValueKind == JsonValueKind.Number && element.GetDouble() > 0))
                throw new InvalidFileException(file, $"{key} must be a positive number or null, got {element.GetRawText()}");
        if (PartialRotaryFactor is { } partial && partial != 1.0 && ModelType is not ("phi3" or "phi"))
            throw new InvalidFileException(file, $"partial_rotary_factor {partial} is not supported for model_type \"{ModelType}\" (only whole heads are rotated)");
        if (PartialRotaryFactor is <= 0 or > 1)
            throw new InvalidFileException(file, $"partial_rotary_factor must be in (0, 1], got {PartialRotaryFactor}");
        if (RotaryDim < 2 || RotaryDim % 2 != 0)
            throw new InvalidFileException(file, $"partial_rotary_factor {PartialRotaryFactor} gives a rotary dimension of {RotaryDim} (head_dim {HeadDim}); it must be even and at least 2");
        if (QkLayernorm == true)
            throw new InvalidFileException(file, "qk_layernorm true is not supported (no released Phi model uses it; the reference's branch is broken)");
        foreach (var (key, value) in new[] { ("resid_pdrop", ResidPdrop), ("embd_pdrop", EmbdPdrop) })
            if (value is < 0 or >= 1) throw new InvalidFileException(file, $"{key} must be in [0, 1), got {value}");
        if (OriginalMaxPositionEmbeddings is <= 0)
            throw new InvalidFileException(file, $"original_max_position_embeddings must be > 0, got {OriginalMaxPositionEmbeddings}");
        if (RopeScaling?.EffectiveType == "longrope")
        {
            if (ModelType != "phi3")
                throw new InvalidFileException(file, $"rope_scaling type \"longrope\" is supported for model_type \"phi3\" only, not \"{ModelType}\"");
            RopeScaling.ValidateLongRope(file, RotaryDim / 2);
        }
        else if (RopeScaling is not null && RopeScaling.EffectiveType != "default" && ModelType is "phi3" or "phi")
            throw new InvalidFileException(file, $"rope_scaling type \"{RopeScaling.EffectiveType}\" is not supported for model_type \"{ModelType}\" (phi3 supports longrope)");
        if (QueryPreAttnScalar is <= 0) throw new InvalidFileException(file, $"query_pre_attn_scalar must be > 0, got {QueryPreAttnScalar}");
        if (SlidingWindowPattern is <= 0) throw new InvalidFileException(file, $"sliding_window_pattern must be > 0, got {SlidingWindowPattern}");
        if (RopeLocalBaseFreq is <= 0) throw new InvalidFileException(file, $"rope_local_base_freq must be > 0, got {RopeLocalBaseFreq}");
        if (LayerTypes is { } types)
        {
            if (types.Count != NumHiddenLayers)
                throw new InvalidFileException(file, $"layer_types has {types.Count} entries; expected one per layer ({NumHiddenLayers})");
            if (types.FirstOrDefault(t => t is not ("sliding_attention" or "full_attention")) is { } odd)
                throw new InvalidFileException(file, $"layer_types entry \"{odd}\" is not supported (supported: sliding_attention, full_attention)");
        }
        if (IsGemma && RopeScaling is not null && ModelType != "gemma3_text")
            throw new InvalidFileException(file, $"rope_scaling is not supported for model_type \"{ModelType}\" (HF's {ModelType} has none)");
    }
}
