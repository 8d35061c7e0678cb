using System.Text.Json;
using MixLora.Config;
using static TorchSharp.torch;

namespace MixLora.Tests.Models.Families;

/// <summary>
/// The Hugging Face formulas of the llama, qwen3, gemma, gemma2, gemma3_text, phi3 and phi decoders written out with plain
/// tensor operations in float64 for one unbatched sequence, from the named weights and the config's raw keys. It
/// shares no code with the model classes (the family rules are restated here), so agreement checks both. Features can
/// be switched off to show that each one changes the logits.
/// </summary>
public static class FamilyReference
{
    /// <summary>Features <see cref="Logits"/> can leave out.</summary>
    public enum Feature
    {
        QkNorm, EmbeddingScale, NormPlusOne, SandwichNorms, AttentionSoftcap, FinalSoftcap, SlidingWindow, LocalRope, QueryScale, GeluTanh,
        PartialRotary, LongRope, ParallelBlock, LayerNorm,
    }

    /// <summary>ids [T] -> logits [T, V] (float64).</summary>
    public static Tensor Logits(ModelConfig c, IReadOnlyDictionary<string, Tensor> weights, long[] ids, params Feature[] off)
    {
        using var scope = NewDisposeScope();
        bool On(Feature f) => !off.Contains(f);
        Tensor W(string name) => weights[name].to(ScalarType.Float64);
        string type = c.ModelType;
        bool gemma = type.StartsWith("gemma", StringComparison.Ordinal), phi = type == "phi", phi3 = type == "phi3";
        int heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads ?? heads, hd = c.HeadDimOverride ?? c.HiddenSize / heads;
        int rotary = On(Feature.PartialRotary) && c.PartialRotaryFactor is { } share ? (int)(hd * share) : hd;
        int t = ids.Length;

        Tensor Norm(Tensor x, string name)
        {
            var w = W(name);
            if (phi && On(Feature.LayerNorm))
            {
                var centred = x - x.mean([-1L], keepdim: true);
                return centred * (centred.pow(2).mean([-1L], keepdim: true) + c.LayerNormEps!.Value).rsqrt() * w + W(name[..^".weight".Length] + ".bias");
            }
            var scaled = x * (x.pow(2).mean([-1L], keepdim: true) + (phi ? c.LayerNormEps : c.RmsNormEps)!.Value).rsqrt();
            return scaled * (gemma && On(Feature.NormPlusOne) ? w + 1 : w);
        }

        Tensor Activation(Tensor z) => (gemma || phi) && On(Feature.GeluTanh)
            ? 0.5 * z * (1 + ((z + 0.044715 * z.pow(3)) * Math.Sqrt(2 / Math.PI)).tanh())
            : z * z.sigmoid();

        Tensor Linear(Tensor x, string name) => weights.ContainsKey(name + ".bias")
            ? matmul(x, W(name + ".weight").t()) + W(name + ".bias")
            : matmul(x, W(name + ".weight").t());

        var x = W("model.embed_tokens.weight").index_select(0, tensor(ids));                       // [T, H]
        if (gemma && On(Feature.EmbeddingScale)) x = x * Math.Sqrt(c.HiddenSize);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            bool sliding = On(Feature.SlidingWindow) && type switch
            {
                "qwen3" => c.UseSlidingWindow == true && l >= c.MaxWindowLayers,
                "phi3" => c.SlidingWindow is not null,
                "gemma2" => l % 2 == 0,
                "gemma3_text" => (l + 1) % c.SlidingWindowPattern!.Value != 0,
                _ => false,
            };
            var h = Norm(x, p + "input_layernorm.weight");
            Tensor q, k, v;
            if (phi3)
            {
                var qkv = Linear(h, p + "self_attn.qkv_proj");                                      // rows: q, then k, then v
                q = qkv.narrow(1, 0, heads * hd).reshape(t, heads, hd);
                k = qkv.narrow(1, heads * hd, kvHeads * hd).reshape(t, kvHeads, hd);
                v = qkv.narrow(1, (heads + kvHeads) * hd, kvHeads * hd).reshape(t, kvHeads, hd);
            }
            else
            {
                q = Linear(h, p + "self_attn.q_proj").view(t, heads, hd);
                k = Linear(h, p + "self_attn.k_proj").view(t, kvHeads, hd);
                v = Linear(h, p + "self_attn.v_proj").view(t, kvHeads, hd);
            }
            if (type is "qwen3" or "gemma3_text" && On(Feature.QkNorm))
            {
                q = Norm(q, p + "self_attn.q_norm.weight");
                k = Norm(k, p + "self_attn.k_norm.weight");
            }
            bool local = type == "gemma3_text" && (l + 1) % c.SlidingWindowPattern!.Value != 0 && On(Feature.LocalRope);
            var (cos, sin) = phi3 && On(Feature.LongRope) && c.RopeScaling is { } longRope
                ? LongRope(c, t, rotary, longRope)
                : Rope(t, rotary, local ? c.RopeLocalBaseFreq!.Value : c.RopeTheta ?? 10000, local || phi3 ? null : c.RopeScaling);
            q = Rotate(q, cos, sin);
            k = Rotate(k, cos, sin);
            double scale = type is "gemma2" or "gemma3_text" && On(Feature.QueryScale) ? 1 / Math.Sqrt(c.QueryPreAttnScalar!.Value) : 1 / Math.Sqrt(hd);
            double? cap = On(Feature.AttentionSoftcap) ? Cap(c.AttnLogitSoftcapping) : null;
            var outputs = new List<Tensor>();
            for (int head = 0; head < heads; head++)
            {
                int kvHead = head / (heads / kvHeads);
                var scores = matmul(q.select(1, head), k.select(1, kvHead).t()) * scale;        // [T, T]
                if (cap is { } a) scores = (scores / a).tanh() * a;
                var i = arange(t).unsqueeze(1);
                var j = arange(t).unsqueeze(0);
                var visible = j.le(i);
                if (sliding) visible = visible.logical_and((i - j).lt(c.SlidingWindow!.Value));
                scores = scores.masked_fill(visible.logical_not(), double.NegativeInfinity);
                outputs.Add(matmul(scores.softmax(-1), v.select(1, kvHead)));                     // [T, hd]
            }
            var attended = Linear(cat(outputs, 1), p + (phi ? "self_attn.dense" : "self_attn.o_proj"));
            if (phi)
            {
                // Phi's parallel block: attention and FFN both read input_layernorm(x).
                var mlpInput = On(Feature.ParallelBlock) ? h : Norm(x + attended, p + "input_layernorm.weight");
                x = x + attended + Linear(Activation(Linear(mlpInput, p + "mlp.fc1")), p + "mlp.fc2");
                continue;
            }
            bool sandwich = type is "gemma2" or "gemma3_text" && On(Feature.SandwichNorms);
            if (sandwich) attended = Norm(attended, p + "post_attention_layernorm.weight");
            x = x + attended;
            var m = Norm(x, p + (sandwich ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"));
            Tensor gate, up;
            if (phi3)
            {
                var gateUp = Linear(m, p + "mlp.gate_up_proj");                                    // gate half first
                long i = gateUp.shape[1] / 2;
                (gate, up) = (gateUp.narrow(1, 0, i), gateUp.narrow(1, i, i));
            }
            else (gate, up) = (Linear(m, p + "mlp.gate_proj"), Linear(m, p + "mlp.up_proj"));
            var ffn = Linear(Activation(gate) * up, p + "mlp.down_proj");
            if (sandwich) ffn = Norm(ffn, p + "post_feedforward_layernorm.weight");
            x = x + ffn;
        }
        x = Norm(x, phi ? "model.final_layernorm.weight" : "model.norm.weight");
        bool tied = c.TieWordEmbeddings ?? gemma;
        var logits = matmul(x, W(tied ? "model.embed_tokens.weight" : "lm_head.weight").t());
        if (phi) logits = logits + W("lm_head.bias");
        if (On(Feature.FinalSoftcap) && Cap(c.FinalLogitSoftcapping) is { } f) logits = (logits / f).tanh() * f;
        return logits.MoveToOuterDisposeScope();
    }

    private static double? Cap(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;

    /// <summary>cos, sin [T, hd] of rotate-half RoPE with HF's default, linear or llama3 frequencies.</summary>
    private static (Tensor Cos, Tensor Sin) Rope(int t, int hd, double theta, RopeScalingConfig? scaling)
    {
        var inv = new double[hd / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            double f = 1 / Math.Pow(theta, 2.0 * i / hd);
            string kind = scaling?.RopeType ?? scaling?.Type ?? "default";
            if (kind == "linear") f /= scaling!.Factor;
            if (kind == "llama3")
            {
                double wavelength = 2 * Math.PI / f, low = scaling!.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                double high = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                if (wavelength > low) f /= scaling.Factor;
                else if (wavelength >= high)
                {
                    double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelength - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    f = (1 - smooth) * f / scaling.Factor + smooth * f;
                }
            }
            inv[i] = f;
        }
        var angles = arange(t, dtype: ScalarType.Float64).unsqueeze(1) * tensor(inv).unsqueeze(0);   // [T, hd/2]
        var full = cat([angles, angles], 1);
        return (full.cos(), full.sin());
    }

    /// <summary>
    /// Phi-3 LongRoPE as HF's Phi3 computes it: the long factors when the sequence is longer than
    /// original_max_position_embeddings, else the short ones; inv_i = 1 / (factor_i · θ^(2i/d)); cos and sin times
    /// √(1 + ln s / ln original), s = max_position_embeddings / original_max_position_embeddings.
    /// </summary>
    private static (Tensor Cos, Tensor Sin) LongRope(ModelConfig c, int t, int dim, RopeScalingConfig scaling)
    {
        int original = c.OriginalMaxPositionEmbeddings!.Value;
        var factors = t > original ? scaling.LongFactor! : scaling.ShortFactor!;
        // (With partial rotary switched off there are more frequencies than factors: the last factor repeats.)
        var inv = Enumerable.Range(0, dim / 2).Select(i => 1 / (factors[Math.Min(i, factors.Count - 1)] * Math.Pow(c.RopeTheta!.Value, 2.0 * i / dim))).ToArray();
        double s = (double)c.MaxPositionEmbeddings / original;
        double attention = s <= 1 ? 1 : Math.Sqrt(1 + Math.Log(s) / Math.Log(original));
        var angles = arange(t, dtype: ScalarType.Float64).unsqueeze(1) * tensor(inv).unsqueeze(0);   // [T, d/2]
        var full = cat([angles, angles], 1);
        return (full.cos() * attention, full.sin() * attention);
    }

    /// <summary>
    /// x [T, heads, hd]: the first d dimensions (d = the tables' width) become x·cos + rotate_half(x)·sin,
    /// rotate_half([a, b]) = [−b, a]; the rest pass through.
    /// </summary>
    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        int d = (int)cos.shape[1], half = d / 2;
        var part = x.narrow(2, 0, d);
        var rotated = cat([-part.narrow(2, half, half), part.narrow(2, 0, half)], 2);
        var turned = part * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
        return d == x.shape[2] ? turned : cat([turned, x.narrow(2, d, x.shape[2] - d)], 2);
    }
}
