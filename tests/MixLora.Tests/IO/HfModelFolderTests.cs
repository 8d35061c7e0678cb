using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO;

public class HfModelFolderTests
{
    public static TheoryData<string, bool, bool, bool, TinyModelFolder.WeightFormat> Variants => new()
    {
        // family, tied, llama3 rope, q/k/v bias, format
        { "llama", false, true, false, TinyModelFolder.WeightFormat.SafeTensors },
        { "llama", true, false, true, TinyModelFolder.WeightFormat.ShardedSafeTensors },
        { "qwen2", false, false, true, TinyModelFolder.WeightFormat.TorchBin },
        { "mistral", true, false, false, TinyModelFolder.WeightFormat.SafeTensors },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void RandomModelRoundTripsThroughAFolderAndCachedLogitsMatchFullRecompute(string family, bool tied, bool llama3, bool bias, TinyModelFolder.WeightFormat format)
    {
        using var dir = new TempDir();
        var config = TinyModels.Config(family, gqa: true, tied: tied, llama3Rope: llama3, bias: bias, vocab: 512,
            slidingWindow: family == "mistral" ? 6 : null);
        using var original = TinyModelFolder.Write(dir.Path, config, seed: 5, format);
        using var loaded = PretrainedModel.Load(dir.Path);
        Assert.Equal(original.ParameterCount(), loaded.Model.ParameterCount());

        using var _ = no_grad();
        using var ids = randint(3, 512, [1, 12], generator: new Generator(9));
        using var expected = original.Forward(ids);
        using var full = loaded.Model.Forward(ids);
        TensorAssert.Close(expected.Logits, full.Logits, 0, "loaded vs in-memory logits");

        using var cache = new MixLora.Models.KvCache(loaded.Model.Layers.Count);
        var steps = new List<Tensor>();
        using (var prefix = loaded.Model.Forward(ids.narrow(1, 0, 4), cache: cache)) steps.Add(prefix.Logits.clone());
        for (int t = 4; t < 12; t++)
        {
            using var step = loaded.Model.Forward(ids.narrow(1, t, 1), cache: cache);
            steps.Add(step.Logits.clone());
        }
        using var cached = cat(steps, 1);
        TensorAssert.Close(full.Logits, cached, 1e-5, "KV-cached vs full logits");
        foreach (var s in steps) s.Dispose();
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void HalfPrecisionWeightsAreConvertedToTheComputeDtype(ScalarType stored)
    {
        using var dir = new TempDir();
        var config = TinyModels.Config(vocab: 512);
        using var original = TinyModelFolder.Write(dir.Path, config, seed: 3, storedAs: stored);
        using var loaded = PretrainedModel.Load(dir.Path);
        var name = "model.layers.1.mlp.down_proj.weight";
        var expected = original.named_parameters().Single(p => p.name == name).parameter.to(stored).to(ScalarType.Float32);
        var actual = loaded.Model.named_parameters().Single(p => p.name == name).parameter;
        Assert.Equal(ScalarType.Float32, actual.dtype);
        Assert.True(expected.eq(actual).all().item<bool>());
        Assert.Contains(stored == ScalarType.BFloat16 ? "BF16" : "F16", loaded.WeightsDescription);
    }

    [Fact]
    public void StateDictNamesAreTheCheckpointNames()
    {
        using var model = TinyModels.Create(TinyModels.Config(family: "qwen2", bias: true, layers: 1));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        string[] expected =
        [
            "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
            "model.layers.0.self_attn.k_proj.bias", "model.layers.0.self_attn.v_proj.bias", "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        ];
        foreach (var n in expected) Assert.Contains(n, names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names); // Qwen2: no o_proj bias
        Assert.Equal(expected.Length + 2, names.Count);                       // + k_proj/v_proj weights
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void MissingAndMisshapedTensorsAreListedTogether()
    {
        using var dir = new TempDir();
        using (TinyModelFolder.Write(dir.Path, TinyModels.Config(vocab: 512), seed: 1)) { }
        var path = Path.Combine(dir.Path, "model.safetensors");
        var tensors = SafeTensorsFile.Load(path);
        tensors.Remove("model.layers.1.mlp.up_proj.weight");
        tensors["model.norm.weight"] = ones(7);
        tensors["model.extra.weight"] = ones(2);
        SafeTensorsFile.Save(path, tensors);
        var e = Assert.Throws<InvalidFileException>(() => PretrainedModel.Load(dir.Path));
        Assert.Contains("missing tensors: model.layers.1.mlp.up_proj.weight [91, 32]", e.Message);
        Assert.Contains("model.norm.weight: expected [32], found [7]", e.Message);
        Assert.Contains("unexpected tensors: model.extra.weight", e.Message);
    }

    [Theory]
    [InlineData("{\"model_type\": \"gpt2\", \"hidden_size\": 8}", "model_type \"gpt2\" is not supported (supported: llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, phi3, phi, mixtral)")]
    [InlineData("{\"hidden_size\": 8}", "missing key \"model_type\"")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 3, \"vocab_size\": 5}", "hidden_size (8) must be divisible by num_attention_heads (3)")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 5}", "\"intermediate_size\" must be a positive integer")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": \"big\"}", "hidden_size")]
    [InlineData("{\"model_type\": ", "not valid JSON (line 1")]
    [InlineData("[1, 2]", "expected a JSON object at the top level")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": \"64\"}", "key \"hidden_size\" must be an integer, got \"64\"")]
    [InlineData("{\"model_type\": \"llama\", \"rms_norm_eps\": \"1e-5\"}", "key \"rms_norm_eps\" must be a number, got \"1e-5\"")]
    [InlineData("{\"model_type\": \"llama\", \"tie_word_embeddings\": 1}", "key \"tie_word_embeddings\" must be true or false, got 1")]
    [InlineData("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": \"8\"}}", "key \"rope_scaling.factor\" must be a number, got \"8\"")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 5, \"rope_scaling\": {\"type\": \"yarn\"}}", "rope_scaling type \"yarn\" is not supported")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 5, \"hidden_act\": \"swiglu9\"}", "hidden_act \"swiglu9\" is not supported")]
    public void BadConfigsGiveClearErrors(string json, string expectedMessage)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), json);
        var e = Assert.Throws<InvalidFileException>(() => PretrainedModel.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(expectedMessage, e.Message);
    }

    [Fact]
    public void FolderWithoutWeightsOrMissingFolderIsAClearError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), TinyModels.Config().ToJson());
        var e = Assert.Throws<MixLoraException>(() => PretrainedModel.Load(dir.Path));
        Assert.Contains("no weights found", e.Message);
        var missing = Assert.Throws<MixLoraException>(() => PretrainedModel.Load(dir.File("nope")));
        Assert.Contains("model folder not found", missing.Message);
    }
}
