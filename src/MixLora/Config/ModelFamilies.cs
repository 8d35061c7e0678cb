namespace MixLora.Config;

/// <summary>The model families this build runs, with what each adds to the LLaMA decoder (for `mixlora info --families`).</summary>
public static class ModelFamilies
{
    public static IReadOnlyList<(string ModelType, string Features)> All { get; } =
    [
        ("llama", "LLaMA 1/2/3.x: GQA, head_dim, llama3 RoPE scaling, tied or untied head, attention/MLP biases"),
        ("mistral", "llama plus a sliding window on every layer"),
        ("qwen2", "llama plus q/k/v biases; sliding window from max_window_layers when use_sliding_window"),
        ("qwen3", "per-head RMSNorm of q and k before RoPE; head_dim from config (default 128)"),
        ("gemma", "embeddings x sqrt(hidden), RMSNorm x (1 + w), GeGLU (hidden_activation), head_dim 256, tied head"),
        ("gemma2", "gemma plus post-attention/post-FFN norms, query_pre_attn_scalar, attention and final soft caps, sliding window on even layers"),
        ("gemma3_text", "gemma2 layout plus q/k norms, local/global layers (layer_types or sliding_window_pattern), local RoPE base, linear rope scaling"),
        ("phi3", "Phi-3.x / Phi-4-mini: fused qkv_proj and gate_up_proj (MixLoRA experts on gate_up_proj), LongRoPE, partial rotary, sliding window"),
        ("phi", "Phi-1.5/2: LayerNorm with bias, attention and FFN in parallel, partial rotary, gelu_new fc1/fc2 experts, biased LM head"),
        ("mixtral", "sparse mixture-of-experts FFN (adapters on attention only)"),
    ];
}
