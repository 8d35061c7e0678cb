using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// The keys of a Hugging Face <c>config.json</c> that the decoders read (llama, mistral, qwen2, qwen3, gemma, gemma2,
/// gemma3_text, phi3, phi, and mixtral, whose FFN is a sparse mixture of experts).
/// Property names mirror the JSON keys; where a key is absent, the family's Hugging Face default applies (the derived
/// properties in ModelConfig.Family.cs).
/// </summary>
public sealed partial record ModelConfig
{
    /// <summary>Model families this build can run.</summary>
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "phi", "mixtral"];

    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>RMSNorm epsilon; absent: 1e-5 for phi3, else 1e-6 (see <see cref="NormEps"/>).</summary>
    [JsonPropertyName("rms_norm_eps")] public double? RmsNormEps { get; init; }
    /// <summary>The RoPE base; absent: 1,000,000 for gemma3_text, else 10,000 (see <see cref="RopeBase"/>).</summary>
    [JsonPropertyName("rope_theta")] public double? RopeTheta { get; init; }
    [JsonPropertyName("rope_scaling")] public RopeScalingConfig? RopeScaling { get; init; }
    /// <summary>The FFN activation; absent: gelu_new for phi, else silu (see <see cref="Activation"/>).</summary>
    [JsonPropertyName("hidden_act")] public string? HiddenAct { get; init; }
    /// <summary>Absent: true for the Gemma families (HF's default there), else false (see <see cref="TiedHead"/>).</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool? TieWordEmbeddings { get; init; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; init; }
    [JsonPropertyName("max_window_layers")] public int? MaxWindowLayers { get; init; }
    [JsonPropertyName("bos_token_id")] public JsonElement? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public JsonElement? PadTokenId { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    /// <summary>Mixtral: experts per layer (HF default 8).</summary>
    [JsonPropertyName("num_local_experts")] public int? NumLocalExperts { get; init; }
    /// <summary>Mixtral: experts each token is routed to (HF default 2).</summary>
    [JsonPropertyName("num_experts_per_tok")] public int? NumExpertsPerTok { get; init; }
    /// <summary>Mixtral: weight of the load-balancing loss in training (kept for round trips; a frozen base has none).</summary>
    [JsonPropertyName("router_aux_loss_coef")] public double? RouterAuxLossCoef { get; init; }

    /// <summary>Whether each layer's FFN is a sparse mixture of experts (mixtral).</summary>
    [JsonIgnore] public bool IsSparseMoe => ModelType == "mixtral";

    /// <summary>Experts per layer of a mixtral model.</summary>
    [JsonIgnore] public int LocalExperts => NumLocalExperts ?? 8;

    /// <summary>Experts per token of a mixtral model.</summary>
    [JsonIgnore] public int ExpertsPerToken => NumExpertsPerTok ?? 2;

    /// <summary>Key/value heads (GQA); equals the query heads when the file does not say.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Per-head size: <c>head_dim</c> when given, else hidden_size / num_attention_heads.</summary>
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? FamilyHeadDim ?? HiddenSize / Math.Max(1, NumAttentionHeads);

    /// <summary>Qwen2 and Phi have q/k/v biases whatever <c>attention_bias</c> says; Mixtral and Phi-3 have none.</summary>
    [JsonIgnore] public bool QkvBias => ModelType is "qwen2" or "phi" || (AttentionBias && !IsSparseMoe && ModelType != "phi3");

    /// <summary>The o_proj (Phi: dense) bias: Phi always, Qwen2, Mixtral and Phi-3 never, else <c>attention_bias</c>.</summary>
    [JsonIgnore] public bool OutputProjectionBias => ModelType == "phi" || (ModelType is not ("qwen2" or "phi3") && AttentionBias && !IsSparseMoe);

    /// <summary>FFN biases: Phi's fc1/fc2 always, Phi-3's never, else <c>mlp_bias</c>.</summary>
    [JsonIgnore] public bool FeedForwardBias => ModelType == "phi" || (MlpBias && ModelType != "phi3");


    /// <summary>The first id of <c>eos_token_id</c> (which may be a number or a list of numbers).</summary>
    [JsonIgnore] public IReadOnlyList<int> EosTokenIds => IdList(EosTokenId);

    [JsonIgnore] public int? BosId => IdList(BosTokenId) is [var first, ..] ? first : null;

    [JsonIgnore] public int? PadId => IdList(PadTokenId) is [var first, ..] ? first : null;

    private static IReadOnlyList<int> IdList(JsonElement? element) => element switch
    {
        { ValueKind: JsonValueKind.Number } e when e.TryGetInt32(out var id) => [id],
        { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()).ToList(),
        _ => [],
    };

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "file not found (a model folder needs a config.json)");
        ModelConfig? config;
        using (var document = JsonSource.ParseObject(IO.Utf8TextFile.Read(path), path))
        {
            try
            {
                config = document.RootElement.Deserialize<ModelConfig>(JsonOptions);
            }
            catch (JsonException e)
            {
                var where = e.Path is null ? "" : $" at {e.Path}";
                throw new InvalidFileException(path, JsonSource.TypeError(typeof(ModelConfig), document.RootElement, e)
                                                     ?? $"not a valid config.json{where}: {e.Message}", e);
            }
        }
        if (config is null) throw new InvalidFileException(path, "expected a JSON object, got null");
        config.Validate(path);
        return config;
    }

    /// <summary>Checks every key the decoder needs; errors name the key and the expected value.</summary>
    public void Validate(string file)
    {
        if (string.IsNullOrEmpty(ModelType))
            throw new InvalidFileException(file, "missing key \"model_type\" (expected one of: " + string.Join(", ", SupportedModelTypes) + ")");
        if (!SupportedModelTypes.Contains(ModelType))
            throw new InvalidFileException(file, $"model_type \"{ModelType}\" is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
        RequirePositive(file, "hidden_size", HiddenSize);
        RequirePositive(file, "intermediate_size", IntermediateSize);
        RequirePositive(file, "num_hidden_layers", NumHiddenLayers);
        RequirePositive(file, "num_attention_heads", NumAttentionHeads);
        RequirePositive(file, "vocab_size", VocabSize);
        RequirePositive(file, "max_position_embeddings", MaxPositionEmbeddings);
        RequirePositive(file, "num_key_value_heads", KeyValueHeads);
        if (NumAttentionHeads % KeyValueHeads != 0)
            throw new InvalidFileException(file, $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({KeyValueHeads})");
        if (HeadDimOverride is null && HiddenSize % NumAttentionHeads != 0)
            throw new InvalidFileException(file, $"hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads}) when head_dim is not given");
        RequirePositive(file, "head_dim", HeadDim);
        if (HeadDim % 2 != 0) throw new InvalidFileException(file, $"head_dim must be even for rotary embeddings, got {HeadDim}");
        if (NormEps <= 0) throw new InvalidFileException(file, $"{(ModelType == "phi" ? "layer_norm_eps" : "rms_norm_eps")} must be > 0, got {NormEps}");
        if (RopeBase <= 0) throw new InvalidFileException(file, $"rope_theta must be > 0, got {RopeBase}");
        if (SlidingWindow is <= 0) throw new InvalidFileException(file, $"sliding_window must be > 0 or null, got {SlidingWindow}");
        if (!Models.Activations.IsSupported(Activation))
            throw new InvalidFileException(file, $"{(IsGemma ? "hidden_activation" : "hidden_act")} \"{Activation}\" is not supported (supported: {string.Join(", ", Models.Activations.Names)})");
        RopeScaling?.Validate(file);
        ValidateFamily(file);
        if (IsSparseMoe)
        {
            RequirePositive(file, "num_local_experts", LocalExperts);
            if (ExpertsPerToken < 1 || ExpertsPerToken > LocalExperts)
                throw new InvalidFileException(file, $"num_experts_per_tok must be between 1 and num_local_experts ({LocalExperts}), got {ExpertsPerToken}");
        }
    }

    private static void RequirePositive(string file, string key, int value)
    {
        if (value <= 0) throw new InvalidFileException(file, $"key \"{key}\" must be a positive integer, got {value} (missing?)");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        // HF config.json files carry many keys this decoder does not need (architectures, initializer_range, ...).
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        AllowTrailingCommas = false,
    };

    /// <summary>Serialises the config back to JSON (only the keys this record knows).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });
}
