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
    [InlineData("model_type", "\"qwen2\"", "model_type \"qwen2\" cannot be exported to GGUF")]
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
