using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Config;
using static TorchSharp.torch;

namespace MixLora.IO;

/// <summary>
/// Imports a karpathy llama2.c checkpoint (legacy "version 0" layout: a 7×int32 header, then fp32 weights) into a
/// Hugging Face folder: config.json, model.safetensors, tokenizer.model and tokenizer_config.json.
/// </summary>
public static class Llama2cConverter
{
    /// <summary>The llama2.c header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative = separate classifier), seq_len.</summary>
    public sealed record Header(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, bool SharedClassifier, int SeqLen)
    {
        public int HeadSize => Dim / Heads;
        public int KvDim => KvHeads * HeadSize;
    }

    /// <summary>Converts <paramref name="checkpoint"/> and writes the folder <paramref name="outputDir"/>; returns the header read.</summary>
    public static Header Convert(string checkpoint, string tokenizerModel, string outputDir)
    {
        if (!File.Exists(checkpoint)) throw new MixLoraException($"{checkpoint}: checkpoint not found");
        if (!File.Exists(tokenizerModel)) throw new MixLoraException($"{tokenizerModel}: tokenizer not found");
        // File.ReadAllBytes limits checkpoints to 2 GB, ample for llama2.c models (stories15M…110M).
        var bytes = File.ReadAllBytes(checkpoint);
        var header = ReadHeader(checkpoint, bytes);
        var tensors = ReadTensors(checkpoint, bytes, header);
        try
        {
            Directory.CreateDirectory(outputDir);
            SafeTensorsFile.Save(Path.Combine(outputDir, "model.safetensors"),
                tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            AtomicFile.WriteAllText(Path.Combine(outputDir, "config.json"), ConfigJson(header));
            AtomicFile.WriteAllText(Path.Combine(outputDir, "tokenizer_config.json"), TokenizerConfigJson(header));
            AtomicFile.Copy(tokenizerModel, Path.Combine(outputDir, "tokenizer.model"));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        return header;
    }

    public static Header ReadHeader(string path, byte[] bytes)
    {
        if (bytes.Length < 28) throw new InvalidFileException(path, $"too short for a llama2.c header (28 bytes), file has {bytes.Length}");
        int Int(int i) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i, 4));
        int dim = Int(0), hidden = Int(1), layers = Int(2), heads = Int(3), kvHeads = Int(4), vocab = Int(5), seqLen = Int(6);
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0 || seqLen <= 0
            || dim % heads != 0 || heads % kvHeads != 0 || dim > 1 << 16 || hidden > 1 << 18 || layers > 1024 || Math.Abs((long)vocab) > 1 << 22)
            throw new InvalidFileException(path,
                $"not a llama2.c checkpoint: header (dim {dim}, hidden_dim {hidden}, n_layers {layers}, n_heads {heads}, n_kv_heads {kvHeads}, vocab_size {vocab}, seq_len {seqLen}) is inconsistent");
        return new Header(dim, hidden, layers, heads, kvHeads, Math.Abs(vocab), vocab > 0, seqLen);
    }

    private static Dictionary<string, Tensor> ReadTensors(string path, byte[] bytes, Header h)
    {
        long L = h.Layers, D = h.Dim, F = h.HiddenDim, V = h.VocabSize, KV = h.KvDim;
        long freqs = (long)h.SeqLen * h.HeadSize / 2;
        long floats = V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D + 3 * L * F * D + D + 2 * freqs
                      + (h.SharedClassifier ? 0 : V * D);
        long expected = 28 + 4 * floats;
        if (bytes.Length != expected)
            throw new InvalidFileException(path, $"size {bytes.Length} bytes does not match the header, which implies {expected} bytes (truncated or not a legacy llama2.c file?)");

        long offset = 28;
        Tensor Next(params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, (int)(4 * n))).ToArray();
            var t = tensor(values, shape);
            offset += 4 * n;
            return t;
        }
        var embed = Next(V, D);
        var rmsAtt = Next(L, D);
        var wq = Next(L, D, D);
        var wk = Next(L, KV, D);
        var wv = Next(L, KV, D);
        var wo = Next(L, D, D);
        var rmsFfn = Next(L, D);
        var w1 = Next(L, F, D);
        var w2 = Next(L, D, F);
        var w3 = Next(L, F, D);
        var rmsFinal = Next(D);
        offset += 2 * 4 * freqs; // freq_cis_real / freq_cis_imag: unused (RoPE is recomputed)
        var result = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = embed, ["model.norm.weight"] = rmsFinal };
        if (!h.SharedClassifier) result["lm_head.weight"] = Next(V, D);
        for (int l = 0; l < h.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            result[p + "input_layernorm.weight"] = rmsAtt[l].clone();
            result[p + "post_attention_layernorm.weight"] = rmsFfn[l].clone();
            result[p + "self_attn.q_proj.weight"] = InterleavedToRotateHalf(wq[l], h.Heads);
            result[p + "self_attn.k_proj.weight"] = InterleavedToRotateHalf(wk[l], h.KvHeads);
            result[p + "self_attn.v_proj.weight"] = wv[l].clone();
            result[p + "self_attn.o_proj.weight"] = wo[l].clone();
            result[p + "mlp.gate_proj.weight"] = w1[l].clone();
            result[p + "mlp.down_proj.weight"] = w2[l].clone();
            result[p + "mlp.up_proj.weight"] = w3[l].clone();
        }
        foreach (var t in new[] { rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3 }) t.Dispose();
        return result;
    }

    /// <summary>
    /// llama2.c rotates interleaved pairs (x[2i], x[2i+1]); HF rotates the halves (x[i], x[i+hd/2]). Reorders the
    /// output rows of each head: [heads, hd/2, 2, in] -> [heads, 2, hd/2, in].
    /// </summary>
    public static Tensor InterleavedToRotateHalf(Tensor weight, int heads)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        return weight.view(heads, rows / heads / 2, 2, cols).transpose(1, 2).reshape(rows, cols).contiguous(); // [out, in] -> [out, in]
    }

    private static string ConfigJson(Header h)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = h.Dim,
            ["intermediate_size"] = h.HiddenDim,
            ["num_hidden_layers"] = h.Layers,
            ["num_attention_heads"] = h.Heads,
            ["num_key_value_heads"] = h.KvHeads,
            ["vocab_size"] = h.VocabSize,
            ["max_position_embeddings"] = h.SeqLen,
            ["rms_norm_eps"] = 1e-05,
            ["rope_theta"] = 10000.0,
            ["hidden_act"] = "silu",
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["tie_word_embeddings"] = h.SharedClassifier,
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["torch_dtype"] = "float32",
            ["initializer_range"] = 0.02,
            ["pretraining_tp"] = 1,
            ["use_cache"] = true,
            ["rope_scaling"] = null,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string TokenizerConfigJson(Header h)
    {
        var config = new JsonObject
        {
            ["tokenizer_class"] = "LlamaTokenizer",
            ["bos_token"] = "<s>",
            ["eos_token"] = "</s>",
            ["unk_token"] = "<unk>",
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["model_max_length"] = h.SeqLen,
            ["legacy"] = true,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
