namespace MixLora.Config;

/// <summary>
/// The projection names an adapter's <c>target_modules</c> may list (spec §1.2), in the reference's global order,
/// which is also the order in which they are written to <c>adapter_config.json</c> and laid out in weight files.
/// </summary>
public static class AdapterTargetModules
{
    /// <summary>Every name the reference knows (union over model families), in the global order.</summary>
    public static readonly IReadOnlyList<string> GlobalOrder =
    [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj",
        "dense", "fc1", "fc2", "qkv_proj", "gate_up_proj", "dense_h_to_4h", "dense_4h_to_h",
    ];

    /// <summary>Attention projections of the LLaMA-style families (llama, mistral, qwen2).</summary>
    public static readonly IReadOnlyList<string> LlamaAttention = ["q_proj", "k_proj", "v_proj", "o_proj"];

    /// <summary>FFN projections of the LLaMA-style families: W1, W2, W3; these become MixLoRA experts.</summary>
    public static readonly IReadOnlyList<string> LlamaFeedForward = ["gate_proj", "down_proj", "up_proj"];

    /// <summary>Phi-3's fused attention projections.</summary>
    public static readonly IReadOnlyList<string> Phi3Attention = ["qkv_proj", "o_proj"];

    /// <summary>Phi-3's FFN projections (gate_up_proj stacks W1 and W3); these become MixLoRA experts.</summary>
    public static readonly IReadOnlyList<string> Phi3FeedForward = ["gate_up_proj", "down_proj"];

    /// <summary>Phi's attention projections (dense is the output projection).</summary>
    public static readonly IReadOnlyList<string> PhiAttention = ["q_proj", "k_proj", "v_proj", "dense"];

    /// <summary>Phi's FFN projections; these become MixLoRA experts.</summary>
    public static readonly IReadOnlyList<string> PhiFeedForward = ["fc1", "fc2"];

    /// <summary>m-LoRA ≤ 0.4 names of the FFN projections (w1 = gate, w2 = down, w3 = up), spec §5.5.</summary>
    public static readonly IReadOnlyDictionary<string, string> LegacyNames = new Dictionary<string, string>
    {
        ["w1_proj"] = "gate_proj",
        ["w2_proj"] = "down_proj",
        ["w3_proj"] = "up_proj",
    };

    /// <summary>Whether <paramref name="name"/> appears in <see cref="GlobalOrder"/>.</summary>
    public static bool IsKnown(string name) => GlobalOrder.Contains(name);

    /// <summary>The attention and FFN target names a base model of <paramref name="modelType"/> has.</summary>
    /// <exception cref="MixLoraException">The model family is not one this build runs.</exception>
    public static (IReadOnlyList<string> Attention, IReadOnlyList<string> FeedForward) ForModelType(string modelType) =>
        modelType switch
        {
            "llama" or "mistral" or "qwen2" or "qwen3" or "gemma" or "gemma2" or "gemma3_text" => (LlamaAttention, LlamaFeedForward),
            "phi3" => (Phi3Attention, Phi3FeedForward),
            "phi" => (PhiAttention, PhiFeedForward),
            // Mixtral's FFN is already a mixture of experts: adapters attach to its attention only.
            "mixtral" => (LlamaAttention, []),
            _ => throw new MixLoraException(
                $"adapters on model_type \"{modelType}\" are not supported (supported: {string.Join(", ", ModelConfig.SupportedModelTypes)})"),
        };

    /// <summary>
    /// Sorts names into the global order and removes duplicates; names outside the table keep their relative order
    /// after the known ones (validation reports them).
    /// </summary>
    public static IReadOnlyList<string> Normalize(IEnumerable<string> names)
    {
        var distinct = names.Distinct(StringComparer.Ordinal).ToList();
        var known = GlobalOrder.Where(distinct.Contains);
        var unknown = distinct.Where(n => !IsKnown(n));
        return known.Concat(unknown).ToList();
    }
}
