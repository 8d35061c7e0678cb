using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Config;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// What llama.cpp's <c>llama</c> architecture (dense LLaMA/Mistral, or a Mixtral-style MoE) or its <c>qwen3</c>,
/// <c>gemma</c>, <c>gemma2</c>, <c>gemma3</c>, <c>phi3</c> and <c>phi2</c> architectures need to know of a model's
/// config.json, and the GGUF metadata keys that say it, as llama.cpp's own converter writes them.
/// </summary>
internal sealed class GgufLlamaShape
{
    private GgufLlamaShape(ModelConfig config, int experts, int expertsUsed)
    {
        Config = config;
        Experts = experts;
        ExpertsUsed = expertsUsed;
        Arch = config.ModelType switch
        {
            "qwen3" or "gemma" or "gemma2" => config.ModelType,
            "gemma3_text" => "gemma3",
            "phi3" => "phi3",
            "phi" => "phi2",
            _ => "llama",
        };
    }

    public ModelConfig Config { get; }

    /// <summary>llama.cpp's architecture name: "llama", "qwen3", "gemma", "gemma2", "gemma3", "phi3" or "phi2".</summary>
    public string Arch { get; }

    /// <summary>
    /// llama.cpp's llama rotates adjacent pairs and needs Q/K rows reordered; its qwen3, gemma and phi architectures
    /// rotate the two halves of each head's rotary part as Hugging Face does (NEOX style), so the weights go as they are.
    /// </summary>
    public bool PermutesQueryKeyRows => Arch == "llama";

    /// <summary>
    /// Gemma's RMSNorm multiplies by (1 + w); llama.cpp's gemma graph multiplies by the stored weight, so its converter
    /// stores 1 + w, and so do we.
    /// </summary>
    public bool NormWeightsPlusOne => Arch is "gemma" or "gemma2" or "gemma3";

    /// <summary>Experts per MoE layer (0 for a dense model).</summary>
    public int Experts { get; }

    public int ExpertsUsed { get; }

    /// <exception cref="MixLoraException">A model llama.cpp's architecture for it would run differently, named by its config key.</exception>
    public static GgufLlamaShape From(JsonObject json)
    {
        var config = json.Deserialize<ModelConfig>() ?? throw new MixLoraException("config.json is null");
        config.Validate("config.json");
        int experts = 0, used = 0;
        switch (config.ModelType)
        {
            case "llama" or "mistral":
                break;
            case "qwen3":
                if (config.AttentionBias)
                    throw new MixLoraException("config.json: attention_bias true cannot be exported to GGUF (llama.cpp's qwen3 architecture has no attention biases)");
                break;
            case "gemma2":
                // llama.cpp scales scores by head_dim^−½ and caps them and the logits with the values it is given.
                if (config.AttentionScale != 1 / Math.Sqrt(config.HeadDim))
                    throw new MixLoraException($"config.json: query_pre_attn_scalar {config.QueryPreAttnScalar ?? 224} differs from head_dim {config.HeadDim}; " +
                                               "llama.cpp's gemma2 architecture scales attention scores by head_dim^-1/2, so this model cannot be exported to GGUF");
                if (config.AttentionSoftcap is null || config.FinalSoftcap is null)
                    throw new MixLoraException("config.json: attn_logit_softcapping and final_logit_softcapping must both be set to export gemma2 to GGUF " +
                                               "(llama.cpp's gemma2 architecture always caps)");
                goto case "gemma";
            case "gemma3_text":
                RequireGemma3Layout(config);
                goto case "gemma";
            case "gemma":
                if (!config.TiedHead)
                    throw new MixLoraException("config.json: tie_word_embeddings false cannot be exported to GGUF (llama.cpp's gemma architecture reads the head from the embeddings)");
                if (config.AttentionBias)
                    throw new MixLoraException("config.json: attention_bias true cannot be exported to GGUF (llama.cpp's gemma architecture has no attention biases)");
                break;
            case "mixtral":
                (experts, used) = (config.LocalExperts, config.ExpertsPerToken);
                break;
            case "phi":
                // llama.cpp's phi2 requires output.weight and output.bias; our tied Phi has no head of its own to write.
                if (config.TiedHead)
                    throw new MixLoraException("config.json: tie_word_embeddings true cannot be exported to GGUF (llama.cpp's phi2 architecture reads a separate output weight and bias)");
                goto case "phi3";
            case "phi3":
                // Both size Q and the attention output by embedding_length (hidden_size): no other head size fits.
                if (config.HeadDim * config.NumAttentionHeads != config.HiddenSize)
                    throw new MixLoraException($"config.json: head_dim {config.HeadDim} times num_attention_heads {config.NumAttentionHeads} differs from hidden_size {config.HiddenSize}; " +
                                               $"llama.cpp's {(config.IsPhi ? "phi2" : "phi3")} architecture sizes the attention by hidden_size, so this model cannot be exported to GGUF");
                break;
            default:
                throw new MixLoraException($"config.json: model_type \"{config.ModelType}\" cannot be exported to GGUF (supported: {string.Join(", ", SupportedTypes)})");
        }
        // llama.cpp's llama, qwen3, gemma and phi2 graphs attend to the whole context, and so does its phi3 graph: it reads
        // phi3.attention.sliding_window but switches the window off (a warning says so when the file is loaded). A window
        // shorter than the context would change the outputs. Its gemma2/gemma3 graphs have their families' windows.
        if (config.ModelType is not ("gemma2" or "gemma3_text") && config.LayerWindows.FirstOrDefault(w => w < config.MaxPositionEmbeddings) is { } window)
            throw new MixLoraException($"config.json: sliding_window {window} is shorter than max_position_embeddings {config.MaxPositionEmbeddings}; " +
                                       "llama.cpp's graph for it has no sliding-window attention, so this model cannot be exported to GGUF");
        // llama.cpp's GELU is the tanh approximation (Phi's gelu_new and gelu_pytorch_tanh are the same function).
        string[] activations = config.IsPhi ? ["gelu_new", "gelu_pytorch_tanh"] : config.IsGemma ? ["gelu_pytorch_tanh"] : ["silu"];
        if (!activations.Contains(config.Activation))
            throw new MixLoraException($"config.json: {(config.IsGemma ? "hidden_activation" : "hidden_act")} \"{config.Activation}\" cannot be exported to GGUF " +
                                       $"(llama.cpp's graph for {config.ModelType} uses {activations[0]})");
        return new GgufLlamaShape(config, experts, used);
    }

    /// <summary>The config.json model types the export takes.</summary>
    public static readonly IReadOnlyList<string> SupportedTypes = ["llama", "mistral", "mixtral", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "phi"];

    /// <summary>
    /// llama.cpp's gemma3 graph fixes what Gemma 3's config may vary: every sixth layer global, local layers rotated with
    /// base 10,000 and no scaling, scores scaled by head_dim^−½, no soft caps.
    /// </summary>
    private static void RequireGemma3Layout(ModelConfig config)
    {
        string? problem = null;
        if (config.AttentionScale != 1 / Math.Sqrt(config.HeadDim))
            problem = $"query_pre_attn_scalar {config.QueryPreAttnScalar ?? 256} differs from head_dim {config.HeadDim}";
        else if (config.AttentionSoftcap is { } cap)
            problem = $"attn_logit_softcapping {cap} is set";
        else if (config.FinalSoftcap is { } final)
            problem = $"final_logit_softcapping {final} is set";
        else if (config.LocalRopeBase != 10_000)
            problem = $"rope_local_base_freq {config.LocalRopeBase} is not 10000";
        else if (config.LayerWindows.Where((window, l) => (window is not null) != (l % 6 < 5)).Any())
            problem = "the local/global layers are not five local then one global";
        if (problem is not null)
            throw new MixLoraException($"config.json: {problem}; llama.cpp's gemma3 architecture assumes otherwise, so this model cannot be exported to GGUF");
    }

    /// <summary>The general and architecture metadata keys (the tokenizer's come from <see cref="GgufVocabulary"/>).</summary>
    /// <param name="fileType">llama.cpp's general.file_type: the type most tensors are stored in.</param>
    public IEnumerable<KeyValuePair<string, object>> Metadata(string name, uint fileType, int vocabSize)
    {
        var c = Config;
        yield return new("general.architecture", Arch);
        yield return new("general.name", name);
        yield return new("general.file_type", fileType);
        yield return new($"{Arch}.block_count", (uint)c.NumHiddenLayers);
        yield return new($"{Arch}.context_length", (uint)c.MaxPositionEmbeddings);
        yield return new($"{Arch}.embedding_length", (uint)c.HiddenSize);
        yield return new($"{Arch}.feed_forward_length", (uint)c.IntermediateSize);
        yield return new($"{Arch}.attention.head_count", (uint)c.NumAttentionHeads);
        yield return new($"{Arch}.attention.head_count_kv", (uint)c.KeyValueHeads);
        yield return new($"{Arch}.rope.freq_base", (float)c.RopeBase);
        // Phi's LayerNorm has its own epsilon key; every other family here uses RMSNorm.
        yield return new($"{Arch}.attention.{(Arch == "phi2" ? "layer_norm_epsilon" : "layer_norm_rms_epsilon")}", (float)c.NormEps);
        // llama.cpp derives the head size from embedding_length / head_count unless these say otherwise.
        if (c.HeadDim * c.NumAttentionHeads != c.HiddenSize)
        {
            yield return new($"{Arch}.attention.key_length", (uint)c.HeadDim);
            yield return new($"{Arch}.attention.value_length", (uint)c.HeadDim);
        }
        // Gemma 2/3's window size (llama.cpp knows which layers it applies to); Phi-3's, which From allows only where
        // it spans the whole context (llama.cpp's phi3 graph reads it and attends to the whole context).
        if (Arch is "gemma2" or "gemma3" or "phi3"
            && c.LayerWindows.FirstOrDefault(w => w is not null) is { } window)
            yield return new($"{Arch}.attention.sliding_window", (uint)window);
        if (Arch == "phi3")
        {
            // llama.cpp rotates with the long factors when its context (n_ctx per sequence) exceeds this length, with the
            // short ones otherwise; our model (as Hugging Face) when the sequence does.
            yield return new($"{Arch}.rope.scaling.original_context_length", (uint)c.LongRopeSwitchLength);
            // llama.cpp multiplies its rotation by attn_factor: the multiplier our model (as Hugging Face) uses.
            if (c.LongRopeAttentionFactor is { } attnFactor)
                yield return new($"{Arch}.rope.scaling.attn_factor", (float)attnFactor);
        }
        if (Arch == "gemma2")
        {
            yield return new($"{Arch}.attn_logit_softcapping", (float)c.AttentionSoftcap!.Value);
            yield return new($"{Arch}.final_logit_softcapping", (float)c.FinalSoftcap!.Value);
        }
        if (Arch == "gemma3" && c.RopeScaling is { EffectiveType: "linear" } scaling)
        {
            yield return new($"{Arch}.rope.scaling.type", "linear");
            yield return new($"{Arch}.rope.scaling.factor", (float)scaling.Factor);
        }
        if (Experts > 0)
        {
            yield return new($"{Arch}.expert_count", (uint)Experts);
            yield return new($"{Arch}.expert_used_count", (uint)ExpertsUsed);
        }
        yield return new($"{Arch}.vocab_size", (uint)vocabSize);
        // Phi-3 and Phi rotate the leading rotary_dim dimensions of each head; the other families whole heads.
        yield return new($"{Arch}.rope.dimension_count", (uint)c.RotaryDim);
    }

    /// <summary>
    /// For Phi-3 LongRoPE, llama.cpp's <c>rope_factors_long.weight</c> and <c>rope_factors_short.weight</c> tensors
    /// ([rotary_dim / 2], float32): the per-frequency divisors of rope_scaling.long_factor and short_factor, as they are.
    /// Empty without LongRoPE.
    /// </summary>
    public IEnumerable<(string Name, Tensor Factors)> LongRopeFactors()
    {
        if (Config.RopeScaling is not { EffectiveType: "longrope" } s) yield break;
        yield return ("rope_factors_long.weight", tensor(s.LongFactor!.Select(f => (float)f).ToArray()));
        yield return ("rope_factors_short.weight", tensor(s.ShortFactor!.Select(f => (float)f).ToArray()));
    }

    /// <summary>
    /// For llama3 rope scaling, the per-frequency divisors llama.cpp reads from the <c>rope_freqs.weight</c> tensor
    /// ([head_dim / 2], float32): 1 for short wavelengths, <c>factor</c> for long ones, a smooth blend between.
    /// Null when the config has no llama3 scaling.
    /// </summary>
    public Tensor? RopeFrequencyFactors()
    {
        if (Config.RopeScaling is not { EffectiveType: "llama3" } s) return null;
        int half = Config.HeadDim / 2;
        double lowWavelength = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelength = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        var factors = new float[half];
        for (int i = 0; i < half; i++)
        {
            double wavelength = 2 * Math.PI * Math.Pow(Config.RopeBase, 2.0 * i / Config.HeadDim);
            if (wavelength < highWavelength) factors[i] = 1;
            else if (wavelength > lowWavelength) factors[i] = (float)s.Factor;
            else
            {
                double smooth = (s.OriginalMaxPositionEmbeddings / wavelength - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                factors[i] = (float)(1 / ((1 - smooth) / s.Factor + smooth));
            }
        }
        return tensor(factors);
    }
}
