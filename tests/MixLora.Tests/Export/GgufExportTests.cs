using System.Text.Json.Nodes;
using MixLora.Export;
using MixLora.IO;
using MixLora.IO.Gguf;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Export;

/// <summary>The exported file's layout read back with our own GGUF reader: Q8_0 blocks, Q/K row order, metadata, MoE stacks, refusals.</summary>
public class GgufExportTests
{
    [Fact]
    public void Q8_0BlocksRoundLikeGgmlAndStayWithinHalfAStep()
    {
        // One block of 1.0 with one -2.0: d = 2/127, 1.0/d = 63.5 rounds away from zero to 64, -2.0 to -127.
        var block = Enumerable.Repeat(1f, 32).ToArray();
        block[5] = -2f;
        var bytes = Q8_0.Quantize(block);
        Assert.Equal(34, bytes.Length);
        Assert.Equal((Half)(2f / 127f), BitConverter.ToHalf(bytes));
        Assert.Equal(64, (sbyte)bytes[2]);
        Assert.Equal(-127, (sbyte)bytes[2 + 5]);
        Assert.All(Q8_0.Dequantize(Q8_0.Quantize(new float[32])), v => Assert.Equal(0f, v));   // an all-zero block has d = 0

        var random = new Random(7);
        var values = Enumerable.Range(0, 32 * 50).Select(i => (float)(random.NextDouble() - 0.5) * (i / 32 + 1)).ToArray();
        var back = Q8_0.Dequantize(Q8_0.Quantize(values));
        for (int b = 0; b < 50; b++)
        {
            var slice = values.AsSpan(b * 32, 32).ToArray();
            float step = slice.Max(Math.Abs) / 127;
            // Half a quantization step, plus the fp16 rounding of d times at most 127.
            for (int i = 0; i < 32; i++) Assert.True(Math.Abs(back[b * 32 + i] - slice[i]) <= 0.5 * step + 127 * step / 2048, $"block {b} value {i}");
        }
    }

    [Fact]
    public void Q8_0TensorsRoundTripThroughTheFileAndRowsMustBeWholeBlocks()
    {
        using var dir = new TempDir();
        using var weight = randn(3, 64, generator: new Generator(2));
        GgufWriter.Write(dir.File("q.gguf"), [new("general.architecture", "test")], [new GgufTensorData("w", weight, GgmlType.Q8_0)]);
        var header = GgufReader.ReadHeader(dir.File("q.gguf"));
        var info = Assert.Single(header.Tensors);
        Assert.Equal((GgmlType.Q8_0, 3UL * 2 * 34), (info.Type, info.ByteSize));
        Assert.Equal([64UL, 3UL], info.Dims);
        using var loaded = GgufTensors.Load(dir.File("q.gguf"), header, info);
        var expected = Q8_0.Dequantize(Q8_0.Quantize(weight.data<float>().ToArray()));
        Assert.Equal(expected, loaded.data<float>().ToArray());

        using var odd = randn(2, 48);
        var e = Assert.Throws<MixLoraException>(() => GgufWriter.Write(dir.File("odd.gguf"), [], [new GgufTensorData("odd", odd, GgmlType.Q8_0)]));
        Assert.Contains("not whole Q8_0 blocks", e.Message);
    }

    /// <summary>llama.cpp's row order back to Hugging Face's (the converter's permutation read backwards).</summary>
    private static Tensor Unpermute(Tensor weight, int heads)
    {
        var shape = weight.shape;
        return weight.reshape([heads, shape[0] / heads / 2, 2, .. shape[1..]]).transpose(1, 2).reshape(shape);   // [h·D, …] -> [h, D/2, 2, …] -> [h, 2, D/2, …] -> [h·D, …]
    }

    [Fact]
    public void QkPermutationInterleavesTheHalvesOfEachHead()
    {
        // Two heads of size 4: rows [a0 a1 | b0 b1] of a head become [a0 b0 a1 b1].
        using var rows = arange(8, dtype: ScalarType.Float32);
        using var permuted = GgufLlamaTensors.PermuteForRope(rows, heads: 2);
        Assert.Equal([0f, 2, 1, 3, 4, 6, 5, 7], permuted.data<float>().ToArray());
        using var weight = randn(4 * 8, 5, generator: new Generator(1));
        using var there = GgufLlamaTensors.PermuteForRope(weight, heads: 4);
        using var back = Unpermute(there, heads: 4);
        Assert.False(there.allclose(weight, 0, 0));
        Assert.True(back.allclose(weight, 0, 0));
    }

    [Fact]
    public void Stories260KMetadataAndTensorsReadBack()
    {
        using var dir = new TempDir();
        using var model = Stories260K.Load();
        var summary = GgufExporter.Export(model, null, dir.File("m.gguf"), "q8_0");
        var header = GgufReader.ReadHeader(dir.File("m.gguf"));
        var m = header.Metadata;
        Assert.Equal("llama", m["general.architecture"]);
        Assert.Equal(7u, m["general.file_type"]);
        foreach (var (key, value) in new (string, uint)[]
                 {
                     ("block_count", 5), ("embedding_length", 64), ("feed_forward_length", 172), ("context_length", 512),
                     ("attention.head_count", 8), ("attention.head_count_kv", 4), ("rope.dimension_count", 8), ("vocab_size", 512),
                 })
            Assert.Equal(value, m["llama." + key]);
        Assert.Equal(1e-5f, m["llama.attention.layer_norm_rms_epsilon"]);
        Assert.Equal(10000f, m["llama.rope.freq_base"]);
        Assert.False(m.ContainsKey("llama.attention.key_length"));
        Assert.Equal(512, ((List<object>)m["tokenizer.ggml.tokens"]).Count);
        Assert.Equal((1u, 2u, true), (m["tokenizer.ggml.bos_token_id"], m["tokenizer.ggml.eos_token_id"], m["tokenizer.ggml.add_bos_token"]));

        var tensors = header.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(summary.TensorCount, tensors.Count);
        Assert.False(tensors.ContainsKey("output.weight"));                 // tied: llama.cpp reuses token_embd
        Assert.Equal((GgmlType.F32, GgmlType.Q8_0, GgmlType.F16), (tensors["blk.0.attn_norm.weight"].Type, tensors["blk.0.ffn_up.weight"].Type, tensors["blk.0.ffn_down.weight"].Type));
        Assert.Equal([64UL, 32UL], tensors["blk.0.attn_k.weight"].Dims);   // [kv heads · head_dim = 32, hidden 64], innermost first

        var weights = model.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var k = GgufTensors.Load(dir.File("m.gguf"), header, tensors["blk.2.attn_k.weight"]);
        using var kBack = Unpermute(k, heads: 4);
        TensorAssert.Close(weights["model.layers.2.self_attn.k_proj.weight"], kBack, 0.5 * weights["model.layers.2.self_attn.k_proj.weight"].abs().max().item<float>() / 127, "attn_k");
        using var down = GgufTensors.Load(dir.File("m.gguf"), header, tensors["blk.2.ffn_down.weight"]);
        TensorAssert.Close(weights["model.layers.2.mlp.down_proj.weight"], down, 1e-3, "ffn_down (f16)");

        var info = CliRunner.Run("info", dir.File("m.gguf"));
        Assert.True(info.ExitCode == 0, info.Err);
        Assert.Contains("llama, 512 tokens", info.Out);
        Assert.Contains("Q8_0", info.Out);
    }

    private static JsonObject MixtralConfig() => new()
    {
        ["model_type"] = "mixtral", ["hidden_size"] = 64, ["intermediate_size"] = 96, ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["vocab_size"] = 512, ["max_position_embeddings"] = 128,
        ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 1e6, ["num_local_experts"] = 4, ["num_experts_per_tok"] = 2,
        ["tie_word_embeddings"] = false,
    };

    /// <summary>A random checkpoint with Hugging Face Mixtral names and shapes.</summary>
    private static MergedModel Mixtral(JsonObject config)
    {
        const int H = 64, I = 96, E = 4, V = 512;
        var generator = new Generator(9);
        var tensors = new List<KeyValuePair<string, Tensor>> { new("model.embed_tokens.weight", randn(V, H, generator: generator)) };
        for (int l = 0; l < 2; l++)
        {
            string p = $"model.layers.{l}.";
            tensors.Add(new(p + "input_layernorm.weight", ones(H)));
            foreach (var (name, rows) in new[] { ("q_proj", H), ("k_proj", 32), ("v_proj", 32), ("o_proj", H) })
                tensors.Add(new($"{p}self_attn.{name}.weight", randn(rows, H, generator: generator)));
            tensors.Add(new(p + "post_attention_layernorm.weight", ones(H)));
            tensors.Add(new(p + "block_sparse_moe.gate.weight", randn(E, H, generator: generator)));
            for (int e = E - 1; e >= 0; e--)                                // out of order: stacking must sort by expert
            {
                tensors.Add(new($"{p}block_sparse_moe.experts.{e}.w1.weight", randn(I, H, generator: generator)));
                tensors.Add(new($"{p}block_sparse_moe.experts.{e}.w2.weight", randn(H, I, generator: generator)));
                tensors.Add(new($"{p}block_sparse_moe.experts.{e}.w3.weight", randn(I, H, generator: generator)));
            }
        }
        tensors.Add(new("model.norm.weight", ones(H)));
        tensors.Add(new("lm_head.weight", randn(V, H, generator: generator)));
        return new MergedModel(config, tensors);
    }

    [Fact]
    public void MixtralExpertsAreStackedAndTheRouterStaysF32()
    {
        using var dir = new TempDir();
        using var merged = Mixtral(MixtralConfig());
        GgufExporter.Export(merged, Stories260K.Dir, dir.File("moe.gguf"), "q8_0");
        var header = GgufReader.ReadHeader(dir.File("moe.gguf"));
        Assert.Equal((4u, 2u), (header.Metadata["llama.expert_count"], header.Metadata["llama.expert_used_count"]));
        var tensors = header.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(GgmlType.F32, tensors["blk.1.ffn_gate_inp.weight"].Type);
        Assert.Equal([64UL, 4UL], tensors["blk.1.ffn_gate_inp.weight"].Dims);
        Assert.Equal([64UL, 96UL, 4UL], tensors["blk.1.ffn_gate_exps.weight"].Dims);    // torch [E, I, H]
        Assert.Equal([96UL, 64UL, 4UL], tensors["blk.1.ffn_down_exps.weight"].Dims);    // torch [E, H, I]
        Assert.Equal([64UL, 96UL, 4UL], tensors["blk.1.ffn_up_exps.weight"].Dims);
        Assert.Equal(GgmlType.Q8_0, tensors["blk.1.ffn_down_exps.weight"].Type);
        Assert.Equal(3 + 2 * 10, header.Tensors.Count);       // token_embd, output_norm, output; per layer 2 norms, 4 attention, router, 3 stacks

        var byName = merged.Tensors.ToDictionary(t => t.Key, t => t.Value);
        using var down = GgufTensors.Load(dir.File("moe.gguf"), header, tensors["blk.1.ffn_down_exps.weight"]);
        for (int e = 0; e < 4; e++)
        {
            var expected = byName[$"model.layers.1.block_sparse_moe.experts.{e}.w2.weight"];
            TensorAssert.Close(expected, down[e], 0.5 * expected.abs().max().item<float>() / 127 * 1.01, $"expert {e} down");
        }
    }

    [Theory]
    [InlineData("model_type", "\"qwen2\"", "model_type \"qwen2\" cannot be exported to GGUF (supported: llama, mistral, mixtral, qwen3, gemma, gemma2, gemma3_text, phi3, phi)")]
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling type \"yarn\" is not supported")]
    [InlineData("num_local_experts", "0", "key \"num_local_experts\" must be a positive integer")]
    [InlineData("sliding_window", "64", "sliding_window 64 is shorter than max_position_embeddings 128")]
    public void WhatLlamaCppWouldRunDifferentlyIsRefusedByName(string key, string json, string message)
    {
        using var dir = new TempDir();
        var config = MixtralConfig();
        config[key] = JsonNode.Parse(json);
        using var merged = Mixtral(config);
        var e = Assert.ThrowsAny<MixLoraException>(() => GgufExporter.Export(merged, Stories260K.Dir, dir.File("x.gguf")));
        Assert.Contains(message, e.Message);
        Assert.False(File.Exists(dir.File("x.gguf")));
    }

    /// <summary>Exports a <see cref="GgufLlamaCppTests.VariantConfig"/> model as f32 and reads the file back.</summary>
    private static (GgufHeader Header, Dictionary<string, GgufTensorInfo> Tensors, Dictionary<string, Tensor> Weights) ExportVariant(TempDir dir, string variant)
    {
        using var model = TinyModelFolder.Write(dir.File("model"), GgufLlamaCppTests.VariantConfig(variant), seed: 3);
        using var loaded = PretrainedModel.Load(dir.File("model"));
        var summary = GgufExporter.Export(loaded, null, dir.File("m.gguf"));
        var header = GgufReader.ReadHeader(dir.File("m.gguf"));
        var tensors = header.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(summary.TensorCount, tensors.Count);
        var weights = loaded.Model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach().clone());
        return (header, tensors, weights);
    }

    private static float[] Values(TempDir dir, GgufHeader header, GgufTensorInfo info)
    {
        using var t = GgufTensors.Load(dir.File("m.gguf"), header, info);
        return t.data<float>().ToArray();
    }

    [Fact]
    public void Phi3GoesToLlamaCppsPhi3WithFusedTensorsAndLongRopeFactors()
    {
        using var dir = new TempDir();
        var (header, tensors, weights) = ExportVariant(dir, "phi3");
        var m = header.Metadata;
        Assert.Equal("phi3", m["general.architecture"]);
        foreach (var (key, value) in new (string, uint)[]
                 {
                     ("block_count", 2), ("context_length", 2048), ("embedding_length", 64), ("feed_forward_length", 187),
                     ("attention.head_count", 4), ("attention.head_count_kv", 2), ("rope.dimension_count", 12), ("vocab_size", 512),
                     ("attention.sliding_window", 2048), ("rope.scaling.original_context_length", 512),
                 })
            Assert.Equal(value, m["phi3." + key]);
        Assert.Equal((1e-5f, 10000f), (m["phi3.attention.layer_norm_rms_epsilon"], m["phi3.rope.freq_base"]));
        Assert.Equal((float)Math.Sqrt(1 + Math.Log(2048.0 / 512) / Math.Log(512)), m["phi3.rope.scaling.attn_factor"]);
        Assert.False(m.ContainsKey("phi3.attention.key_length"));

        // token_embd, output_norm, output, the two factor sets; per layer attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down.
        Assert.Equal(5 + 2 * 6, tensors.Count);
        Assert.False(tensors.ContainsKey("blk.0.attn_q.weight"));
        Assert.Equal([64UL, (4 + 2 * 2) * 16UL], tensors["blk.1.attn_qkv.weight"].Dims);
        Assert.Equal([64UL, 2 * 187UL], tensors["blk.1.ffn_up.weight"].Dims);
        Assert.Equal([187UL, 64UL], tensors["blk.1.ffn_down.weight"].Dims);
        Assert.Equal([64UL, 512UL], tensors["output.weight"].Dims);
        // Rows as they are: Q, K, V; gate then up (llama.cpp's SwiGLU takes silu of the first half).
        Assert.Equal(weights["model.layers.1.self_attn.qkv_proj.weight"].data<float>().ToArray(), Values(dir, header, tensors["blk.1.attn_qkv.weight"]));
        Assert.Equal(weights["model.layers.1.mlp.gate_up_proj.weight"].data<float>().ToArray(), Values(dir, header, tensors["blk.1.ffn_up.weight"]));
        Assert.Equal(weights["model.layers.1.post_attention_layernorm.weight"].data<float>().ToArray(), Values(dir, header, tensors["blk.1.ffn_norm.weight"]));
        foreach (var (name, factors) in new[] { ("rope_factors_long.weight", new[] { 1f, 2, 4, 8, 16, 40 }), ("rope_factors_short.weight", [1f, 1.5f, 2, 3, 5, 8]) })
        {
            Assert.Equal((GgmlType.F32, 6UL), (tensors[name].Type, Assert.Single(tensors[name].Dims)));
            Assert.Equal(factors, Values(dir, header, tensors[name]));
        }
    }

    [Fact]
    public void Phi3TiedWithAnExplicitAttentionFactorAndNoWindow()
    {
        using var dir = new TempDir();
        var (header, tensors, _) = ExportVariant(dir, "phi3-long");
        var m = header.Metadata;
        Assert.Equal((16u, 1.25f), (m["phi3.rope.scaling.original_context_length"], m["phi3.rope.scaling.attn_factor"]));
        Assert.False(m.ContainsKey("phi3.attention.sliding_window"));
        Assert.False(tensors.ContainsKey("output.weight"));                 // tied: llama.cpp's phi3 reuses token_embd
    }

    [Fact]
    public void PhiGoesToLlamaCppsPhi2WithLayerNormBiasesAndBiasedProjections()
    {
        using var dir = new TempDir();
        var (header, tensors, weights) = ExportVariant(dir, "phi");
        var m = header.Metadata;
        Assert.Equal("phi2", m["general.architecture"]);
        foreach (var (key, value) in new (string, uint)[]
                 {
                     ("block_count", 2), ("context_length", 128), ("embedding_length", 64), ("feed_forward_length", 187),
                     ("attention.head_count", 4), ("attention.head_count_kv", 2), ("rope.dimension_count", 8), ("vocab_size", 512),
                 })
            Assert.Equal(value, m["phi2." + key]);
        Assert.Equal(1e-5f, m["phi2.attention.layer_norm_epsilon"]);
        Assert.False(m.ContainsKey("phi2.attention.layer_norm_rms_epsilon"));
        Assert.DoesNotContain(m.Keys, k => k.StartsWith("phi2.rope.scaling.", StringComparison.Ordinal));

        // token_embd, output_norm and output (weight, bias); per layer attn_norm, attn_q/k/v, attn_output, ffn_up, ffn_down (weight, bias).
        Assert.Equal(5 + 2 * 14, tensors.Count);
        Assert.Equal([64UL, 32UL], tensors["blk.1.attn_k.weight"].Dims);
        Assert.Equal([32UL], tensors["blk.1.attn_k.bias"].Dims);
        Assert.Equal([64UL, 187UL], tensors["blk.1.ffn_up.weight"].Dims);
        Assert.Equal([187UL], tensors["blk.1.ffn_up.bias"].Dims);
        Assert.Equal([512UL], tensors["output.bias"].Dims);
        foreach (var (gguf, hf) in new[]
                 {
                     ("blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight"),            // not permuted: NEOX rotation
                     ("blk.1.attn_output.bias", "model.layers.1.self_attn.dense.bias"),
                     ("blk.1.attn_norm.bias", "model.layers.1.input_layernorm.bias"),
                     ("blk.1.ffn_up.bias", "model.layers.1.mlp.fc1.bias"), ("blk.1.ffn_down.weight", "model.layers.1.mlp.fc2.weight"),
                     ("output_norm.bias", "model.final_layernorm.bias"), ("output.bias", "lm_head.bias"),
                 })
            Assert.Equal(weights[hf].data<float>().ToArray(), Values(dir, header, tensors[gguf]));
    }

    /// <summary>A Phi-3 or Phi config.json: hidden 64, 4 heads of 16, 2 KV heads.</summary>
    private static JsonObject PhiConfig(string type) => new()
    {
        ["model_type"] = type, ["hidden_size"] = 64, ["intermediate_size"] = 96, ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["vocab_size"] = 512, ["max_position_embeddings"] = 128,
        ["tie_word_embeddings"] = false,
    };

    [Theory]
    [InlineData("phi3", "head_dim", "32", "head_dim 32 times num_attention_heads 4 differs from hidden_size 64; llama.cpp's phi3 architecture sizes the attention by hidden_size")]
    [InlineData("phi3", "sliding_window", "64", "sliding_window 64 is shorter than max_position_embeddings 128; llama.cpp's graph for it has no sliding-window attention")]
    [InlineData("phi3", "hidden_act", "\"gelu_new\"", "hidden_act \"gelu_new\" cannot be exported to GGUF (llama.cpp's graph for phi3 uses silu)")]
    [InlineData("phi", "head_dim", "32", "head_dim 32 times num_attention_heads 4 differs from hidden_size 64; llama.cpp's phi2 architecture sizes the attention by hidden_size")]
    [InlineData("phi", "tie_word_embeddings", "true", "tie_word_embeddings true cannot be exported to GGUF (llama.cpp's phi2 architecture reads a separate output weight and bias)")]
    [InlineData("phi", "hidden_act", "\"gelu\"", "hidden_act \"gelu\" cannot be exported to GGUF (llama.cpp's graph for phi uses gelu_new)")]
    public void WhatLlamaCppsPhiGraphsWouldRunDifferentlyIsRefusedByName(string type, string key, string json, string message)
    {
        using var dir = new TempDir();
        var config = PhiConfig(type);
        config[key] = JsonNode.Parse(json);
        using var merged = new MergedModel(config, []);
        var e = Assert.Throws<MixLoraException>(() => GgufExporter.Export(merged, Stories260K.Dir, dir.File("x.gguf")));
        Assert.Contains(message, e.Message);
        Assert.False(File.Exists(dir.File("x.gguf")));
    }

    [Fact]
    public void TheCommandReportsAMissingTokenizerAndABadTypeWithoutAStackTrace()
    {
        using var dir = new TempDir();
        using (var merged = Mixtral(MixtralConfig()))
        {
            var e = Assert.Throws<MixLoraException>(() => GgufExporter.Export(merged, dir.Path, dir.File("x.gguf")));
            Assert.Contains("no tokenizer found", e.Message);
        }
        var bad = CliRunner.Run("export", "gguf", "--model", Stories260K.Dir, "--output", dir.File("x.gguf"), "--type", "q4_0");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("q8_0", bad.Err + bad.Out);
        var folder = CliRunner.Run("export", "gguf", "--model", Stories260K.Dir, "--output", dir.Path);
        Assert.Equal(2, folder.ExitCode);
        Assert.DoesNotContain("   at ", folder.Err);
        Assert.False(File.Exists(dir.File("x.gguf")));
    }
}
