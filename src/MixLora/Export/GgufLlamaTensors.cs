using System.Globalization;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// Hugging Face LLaMA/Mixtral/Qwen3/Gemma/Phi-3/Phi checkpoint tensors under llama.cpp's names and layouts: Q and K rows
/// reordered for the llama architecture's rotary pairing, Mixtral experts stacked into one tensor per projection,
/// per-head q/k norms as attn_q_norm/attn_k_norm, Gemma's norms stored as 1 + w, Phi-3's fused projections and Phi's
/// biased ones as they are.
/// </summary>
internal static partial class GgufLlamaTensors
{
    private static readonly Dictionary<string, string> Global = new(StringComparer.Ordinal)
    {
        ["model.embed_tokens"] = "token_embd", ["model.norm"] = "output_norm", ["lm_head"] = "output",
        ["model.final_layernorm"] = "output_norm",                                        // Phi's LayerNorm (weight and bias)
    };

    private static readonly Dictionary<string, string> PerLayer = new(StringComparer.Ordinal)
    {
        ["input_layernorm"] = "attn_norm", ["self_attn.q_proj"] = "attn_q", ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v", ["self_attn.o_proj"] = "attn_output", ["post_attention_layernorm"] = "ffn_norm",
        ["mlp.gate_proj"] = "ffn_gate", ["mlp.up_proj"] = "ffn_up", ["mlp.down_proj"] = "ffn_down",
        ["block_sparse_moe.gate"] = "ffn_gate_inp", ["self_attn.q_norm"] = "attn_q_norm", ["self_attn.k_norm"] = "attn_k_norm",
        ["pre_feedforward_layernorm"] = "ffn_norm", ["post_feedforward_layernorm"] = "post_ffw_norm",
        // Phi-3: rows Q, K, V in one tensor, as llama.cpp's attn_qkv splits it; gate then up rows, as its phi3 graph's
        // SwiGLU halves ffn_up (silu of the first half times the second).
        ["self_attn.qkv_proj"] = "attn_qkv", ["mlp.gate_up_proj"] = "ffn_up",
        // Phi: the attention output is "dense", the FFN fc1 (up) and fc2 (down), all with biases.
        ["self_attn.dense"] = "attn_output", ["mlp.fc1"] = "ffn_up", ["mlp.fc2"] = "ffn_down",
    };

    /// <summary>Mixtral's expert projections: w1 gate [I, H], w2 down [H, I], w3 up [I, H].</summary>
    private static readonly Dictionary<string, string> Experts = new(StringComparer.Ordinal)
    {
        ["w1"] = "ffn_gate_exps", ["w2"] = "ffn_down_exps", ["w3"] = "ffn_up_exps",
    };

    /// <summary>
    /// The GGUF tensors of <paramref name="checkpoint"/> in checkpoint order (stacked experts where their first
    /// expert was). Tensors made here (permuted, stacked) belong to the caller's dispose scope.
    /// </summary>
    /// <exception cref="MixLoraException">A tensor with no place in the llama layout, or an incomplete expert set.</exception>
    public static List<(string Name, Tensor Tensor)> Map(IReadOnlyList<KeyValuePair<string, Tensor>> checkpoint, GgufLlamaShape shape)
    {
        var result = new List<(string Name, Tensor Tensor)>();
        var stacks = new Dictionary<string, SortedDictionary<int, Tensor>>(StringComparer.Ordinal);
        foreach (var (name, value) in checkpoint)
        {
            var (module, suffix) = SplitSuffix(name);
            if (Global.TryGetValue(module, out var global))
            {
                result.Add(($"{global}.{suffix}", ShiftedNorm(global, value, shape)));
                continue;
            }
            var layer = LayerName().Match(module);
            if (!layer.Success) throw Unmapped(name, shape);
            string block = $"blk.{layer.Groups[1].Value}";
            string inner = layer.Groups[2].Value;
            // Gemma 2/3's post_attention_layernorm norms the attention output (llama.cpp: post_attention_norm); their
            // FFN input norm is pre_feedforward_layernorm (ffn_norm).
            string? mapped = shape.Config.HasSandwichNorms && inner == "post_attention_layernorm" ? "post_attention_norm" : PerLayer.GetValueOrDefault(inner);
            if (mapped is not null)
            {
                result.Add(($"{block}.{mapped}.{suffix}", mapped switch
                {
                    "attn_q" when shape.PermutesQueryKeyRows => PermuteForRope(value, shape.Config.NumAttentionHeads),
                    "attn_k" when shape.PermutesQueryKeyRows => PermuteForRope(value, shape.Config.KeyValueHeads),
                    _ => ShiftedNorm(mapped, value, shape),
                }));
                continue;
            }
            var expert = ExpertName().Match(inner);
            if (!expert.Success || suffix != "weight" || shape.Experts == 0) throw Unmapped(name, shape);
            string stacked = $"{block}.{Experts[expert.Groups[2].Value]}.weight";
            if (!stacks.TryGetValue(stacked, out var experts))
            {
                stacks[stacked] = experts = new SortedDictionary<int, Tensor>();
                result.Add((stacked, null!));                 // placeholder: filled once every expert has been seen
            }
            experts[int.Parse(expert.Groups[1].Value, CultureInfo.InvariantCulture)] = value;
        }
        for (int i = 0; i < result.Count; i++)
        {
            if (result[i].Tensor is not null) continue;
            var experts = stacks[result[i].Name];
            if (experts.Count != shape.Experts || experts.Keys.First() != 0 || experts.Keys.Last() != shape.Experts - 1)
                throw new MixLoraException($"{result[i].Name}: the checkpoint has experts [{string.Join(", ", experts.Keys)}], expected 0 to {shape.Experts - 1}");
            result[i] = (result[i].Name, stack(experts.Values.ToArray()));   // E × [out, in] -> [E, out, in]
        }
        return result;
    }

    /// <summary>
    /// Hugging Face rotates the two halves of each head (rotate_half); llama.cpp's llama rotates adjacent pairs. Rows
    /// of each head go from [first half, second half] to interleaved (row j of the first half, then row j of the
    /// second), so the same rotation applies. Works on a weight [heads·D, in] or a bias [heads·D].
    /// </summary>
    public static Tensor PermuteForRope(Tensor weight, int heads)
    {
        var shape = weight.shape;
        long half = shape[0] / heads / 2;
        return weight.reshape([heads, 2, half, .. shape[1..]])          // [heads·D, …] -> [heads, 2, D/2, …]
            .transpose(1, 2)                                             // -> [heads, D/2, 2, …]
            .reshape(shape);                                             // -> [heads·D, …]
    }

    /// <summary>A Gemma norm weight w as 1 + w (every GGUF norm name ends in "_norm"); anything else as it is.</summary>
    private static Tensor ShiftedNorm(string ggufName, Tensor value, GgufLlamaShape shape) =>
        shape.NormWeightsPlusOne && ggufName.EndsWith("_norm", StringComparison.Ordinal) ? value + 1 : value;

    private static (string Module, string Suffix) SplitSuffix(string name)
    {
        int dot = name.LastIndexOf('.');
        return dot < 0 ? (name, "") : (name[..dot], name[(dot + 1)..]);
    }

    private static MixLoraException Unmapped(string name, GgufLlamaShape shape) =>
        new($"tensor \"{name}\" has no place in llama.cpp's {shape.Arch} layout; this model cannot be exported to GGUF");

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerName();

    [GeneratedRegex(@"^block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)$")]
    private static partial Regex ExpertName();
}
