using System.Text.Json;
using MixLora.Config;
using static TorchSharp.torch;

namespace MixLora.Tests.Models.Families;

/// <summary>
/// The Hugging Face formulas of the llama, qwen3, gemma, gemma2 and gemma3_text decoders written out with plain
/// tensor operations in float64 for one unbatched sequence, from the named weights and the config's raw keys. It
/// shares no code with the model classes (the family rules are restated here), so agreement checks both. Features can
/// be switched off to show that each one changes the logits.
/// </summary>
public static class FamilyReference
{
    /// <summary>Features <see cref="Logits"/> can leave out.</summary>
    public enum Feature { QkNorm, EmbeddingScale, NormPlusOne, SandwichNorms, AttentionSoftcap, FinalSoftcap, SlidingWindow, LocalRope, QueryScale, GeluTanh }

    /// <summary>ids [T] -> logits [T, V] (float64).</summary>
    public static Tensor Logits(ModelConfig c, IReadOnlyDictionary<string, Tensor> weights, long[] ids, params Feature[] off)
    {
        using var scope = NewDisposeScope();
        bool On(Feature f) => !off.Contains(f);
        Tensor W(string name) => weights[name].to(ScalarType.Float64);
        string type = c.ModelType;
        bool gemma = type.StartsWith("gemma", StringComparison.Ordinal);
        int heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads ?? heads, hd = c.HeadDimOverride ?? c.HiddenSize / heads;
        int t = ids.Length;

        Tensor Norm(Tensor x, string name)
        {
            var w = W(name);
            var scaled = x * (x.pow(2).mean([-1L], keepdim: true) + c.RmsNormEps).rsqrt();
            return scaled * (gemma && On(Feature.NormPlusOne) ? w + 1 : w);
        }

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
                "gemma2" => l % 2 == 0,
                "gemma3_text" => (l + 1) % c.SlidingWindowPattern!.Value != 0,
                _ => false,
            };
            var h = Norm(x, p + "input_layernorm.weight");
            var q = Linear(h, p + "self_attn.q_proj").view(t, heads, hd);
            var k = Linear(h, p + "self_attn.k_proj").view(t, kvHeads, hd);
            var v = Linear(h, p + "self_attn.v_proj").view(t, kvHeads, hd);
            if (type is "qwen3" or "gemma3_text" && On(Feature.QkNorm))
            {
                q = Norm(q, p + "self_attn.q_norm.weight");
                k = Norm(k, p + "self_attn.k_norm.weight");
            }
            bool local = type == "gemma3_text" && (l + 1) % c.SlidingWindowPattern!.Value != 0 && On(Feature.LocalRope);
            var (cos, sin) = Rope(t, hd, local ? c.RopeLocalBaseFreq!.Value : c.RopeTheta ?? 10000, local ? null : c.RopeScaling);
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
            var attended = Linear(cat(outputs, 1), p + "self_attn.o_proj");
            bool sandwich = type is "gemma2" or "gemma3_text" && On(Feature.SandwichNorms);
            if (sandwich) attended = Norm(attended, p + "post_attention_layernorm.weight");
            x = x + attended;
            var m = Norm(x, p + (sandwich ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"));
            var gate = Linear(m, p + "mlp.gate_proj");
            var activated = gemma && On(Feature.GeluTanh)
                ? 0.5 * gate * (1 + ((gate + 0.044715 * gate.pow(3)) * Math.Sqrt(2 / Math.PI)).tanh())
                : gate * gate.sigmoid();
            var ffn = Linear(activated * Linear(m, p + "mlp.up_proj"), p + "mlp.down_proj");
            if (sandwich) ffn = Norm(ffn, p + "post_feedforward_layernorm.weight");
            x = x + ffn;
        }
        x = Norm(x, "model.norm.weight");
        bool tied = c.TieWordEmbeddings ?? gemma;
        var logits = matmul(x, W(tied ? "model.embed_tokens.weight" : "lm_head.weight").t());
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

    /// <summary>x [T, heads, hd]: x·cos + rotate_half(x)·sin, rotate_half([a, b]) = [−b, a].</summary>
    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        int half = (int)x.shape[2] / 2;
        var rotated = cat([-x.narrow(2, half, half), x.narrow(2, 0, half)], 2);
        return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
    }
}
