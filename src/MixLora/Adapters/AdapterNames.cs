namespace MixLora.Adapters;

/// <summary>Official tensor-name prefixes of adapter files (spec §5.3).</summary>
public static class AdapterNames
{
    /// <summary>Every attention projection name of the supported families (Phi-3: qkv_proj; Phi: dense).</summary>
    public static readonly IReadOnlyList<string> AttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj", "dense"];

    public static bool IsAttention(string projection) => AttentionProjections.Contains(projection);

    /// <summary>"self_attn" or "mlp": the module group of a projection.</summary>
    public static string Group(string projection) => IsAttention(projection) ? "self_attn" : "mlp";

    /// <summary>Plain LoRA (HF PEFT layout): <c>base_model.model.model.layers.{i}.{group}.{proj}</c>.</summary>
    public static string PlainLora(int layer, string projection) => $"base_model.model.model.layers.{layer}.{Group(projection)}.{projection}";

    /// <summary>MixLoRA attention LoRA: <c>mixlora.layers.{i}.self_attn.{proj}</c>.</summary>
    public static string MixLoraAttention(int layer, string projection) => $"mixlora.layers.{layer}.self_attn.{projection}";

    /// <summary>MixLoRA expert LoRA: <c>mixlora.layers.{i}.mlp.{proj}.experts.{e}</c>.</summary>
    public static string MixLoraExpert(int layer, string projection, int expert) => $"mixlora.layers.{layer}.mlp.{projection}.experts.{expert}";

    /// <summary>MixLoRA router: <c>mixlora.layers.{i}.mlp.moe_gate.weight</c>.</summary>
    public static string Router(int layer) => $"mixlora.layers.{layer}.mlp.moe_gate.weight";
}
