using MixLora.Adapters;
using MixLora.Config;
using MixLora.Export;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Models;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Export;

/// <summary>
/// A top-k MixLoRA adapter exported as a Mixtral model: loaded by our mixtral decoder it gives the adapted logits
/// (1e-5 relative) and greedy text; what Mixtral cannot express is refused with its reason.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class MixtralExportTests
{
    private static readonly long[] Prompt = [1, 403, 407, 261, 439, 281, 300, 275, 400];

    private static AdapterConfig MixLoraConfig(string targets, string extra = "") => AdapterConfig.Parse(
        "{\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 5, \"top_k\": 2, \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, " +
        $"\"target_modules\": {targets}{extra}}}", "(test)");

    /// <summary>An adapter with random non-zero B matrices and router, saved to <paramref name="dir"/>/adapter.</summary>
    private static string TrainedLike(TempDir dir, AdapterConfig config)
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Create(model, config, new AdapterOptions { Seed = 5 });
        using (no_grad())
        {
            var generator = new Generator(13);
            foreach (var (name, p) in adapter.NamedTensors)
            {
                if (name.Contains("lora_B")) p.copy_(randn(p.shape, generator: generator) * 0.2);
                if (name.EndsWith("moe_gate.weight")) p.copy_(randn(p.shape, generator: generator));
            }
        }
        adapter.Save(dir.File("adapter"));
        return dir.File("adapter");
    }

    public static TheoryData<string> Adapters => new()
    {
        "golden",                                          // the reference-trained adapter of assets/golden
        "[\"q_proj\", \"v_proj\", \"gate_proj\", \"down_proj\"]", // experts without an up_proj LoRA share W3
        "[\"o_proj\", \"up_proj\"]",
    };

    [Theory]
    [MemberData(nameof(Adapters))]
    public void MixtralFolderGivesTheAdaptedLogitsAndGreedyText(string adapterKind)
    {
        using var dir = new TempDir();
        var adapterDir = adapterKind == "golden"
            ? RepoPaths.Asset("golden", "mixlora-stories260K", "adapter")
            : TrainedLike(dir, MixLoraConfig(adapterKind));
        using var model = Stories260K.Load();
        using var ids = tensor(Prompt).unsqueeze(0);
        Tensor expected;
        List<int> expectedIds;
        AdapterConfig config;
        using (var adapter = Adapter.Load(model.Model, adapterDir))
        {
            config = adapter.Config;
            using (no_grad()) using (var output = model.Model.Forward(ids)) expected = output.Logits.clone();
            expectedIds = new TokenGenerator(model.Model).Generate([1], new SamplingOptions { Temperature = 0, MaxNewTokens = 64 }, []).ToList();
            AdapterMerger.Merge(model, adapter, dir.File("mixtral"));
        }
        using (expected)
        {
            using var mixtral = PretrainedModel.Load(dir.File("mixtral"));
            Assert.Equal("mixtral", mixtral.Config.ModelType);
            Assert.Equal(config.NumExperts, mixtral.Config.LocalExperts);
            Assert.Equal(config.EffectiveTopK, mixtral.Config.ExpertsPerToken);
            Assert.All(mixtral.Model.Layers, l => Assert.Equal(config.NumExperts, l.SparseMoe!.Experts.Count));
            Assert.Contains(mixtral.Describe(), row => row.Key == "FFN" && row.Value.StartsWith($"sparse mixture of {config.NumExperts} experts, top-{config.EffectiveTopK}"));
            double scale = Math.Max(1.0, expected.abs().max().item<float>());
            using (no_grad()) using (var output = mixtral.Model.Forward(ids)) TensorAssert.Close(expected, output.Logits, 1e-5 * scale, "mixtral vs MixLoRA logits");
            Assert.Equal(expectedIds, new TokenGenerator(mixtral.Model).Generate([1], new SamplingOptions { Temperature = 0, MaxNewTokens = 64 }, []).ToList());
        }
    }

    [Fact]
    public void ExpertsWithoutALoraCarryTheBaseWeight()
    {
        using var dir = new TempDir();
        var adapterDir = TrainedLike(dir, MixLoraConfig("[\"q_proj\", \"gate_proj\"]"));
        using var model = Stories260K.Load();
        using var adapter = Adapter.Load(model.Model, adapterDir);
        using var merged = AdapterMerger.MergeWeights(model, adapter);
        var tensors = merged.Tensors.ToDictionary(t => t.Key, t => t.Value);
        var mlp = model.Model.Layers[3].DenseMlp;
        TensorAssert.Close(mlp.UpProj.Weight, tensors["model.layers.3.block_sparse_moe.experts.4.w3.weight"], 0, "w3 = up_proj");
        TensorAssert.Close(mlp.DownProj.Weight, tensors["model.layers.3.block_sparse_moe.experts.0.w2.weight"], 0, "w2 = down_proj");
        Assert.True(tensors["model.layers.3.block_sparse_moe.experts.1.w1.weight"].sub(mlp.GateProj!.Weight).abs().max().item<float>() > 1e-3, "w1 carries the expert's LoRA");
        Assert.DoesNotContain(tensors.Keys, k => k.Contains(".mlp."));
        Assert.Equal(5 * 3 + 1, tensors.Keys.Count(k => k.StartsWith("model.layers.0.block_sparse_moe.")));
        Assert.Equal("MixtralForCausalLM", merged.Config["architectures"]![0]!.GetValue<string>());
    }

    public static TheoryData<string, string> Inexpressible => new()
    {
        { ", \"routing_strategy\": \"mixlora-switch\"", "switch routing drops tokens" },
        { ", \"routing_strategy\": \"mixlora-dynamic\", \"top_p\": 0.5", "dynamic (top-p) routing" },
        { ", \"use_dora\": true", "DoRA experts" },
    };

    [Theory]
    [MemberData(nameof(Inexpressible))]
    public void WhatMixtralCannotExpressIsRefused(string extra, string reason)
    {
        using var model = Stories260K.Load();
        var json = "{\"peft_type\": \"MIXLORA\", \"num_experts\": 4, \"top_k\": 2, \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, " +
                   "\"target_modules\": [\"q_proj\", \"up_proj\"], \"routing_strategy\": \"mixlora\"" + extra + "}";
        // A later duplicate key would be an error: drop the default strategy when the case names another one.
        if (extra.Contains("routing_strategy")) json = json.Replace(", \"routing_strategy\": \"mixlora\"", "");
        using var adapter = Adapter.Create(model.Model, AdapterConfig.Parse(json, "(test)"));
        var e = Assert.Throws<MixLoraException>(() => AdapterMerger.MergeWeights(model, adapter));
        Assert.Contains("cannot be exported as a Mixtral model", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void SparseMoeIsTheRenormalisedTopKMixtureOfItsExperts()
    {
        var config = TinyModels.Config() with { ModelType = "mixtral", NumLocalExperts = 4, NumExpertsPerTok = 2 };
        using var model = TinyModels.Create(config, seed: 3);
        var moe = model.Layers[1].SparseMoe!;
        using var x = randn(2, 5, config.HiddenSize, generator: new Generator(7));
        using var _ = no_grad();
        using var actual = moe.forward(x);
        // Token by token, straight from the definition.
        var flat = x.reshape(-1, config.HiddenSize);
        for (int n = 0; n < flat.shape[0]; n++)
        {
            var token = flat[n].unsqueeze(0);
            var probs = nn.functional.linear(token, moe.RouterWeight).softmax(-1)[0].data<float>().ToArray();
            var best = probs.Select((p, e) => (p, e)).OrderByDescending(t => t.p).Take(2).ToList();
            var sum = best.Sum(t => t.p);
            var expected = zeros(1, config.HiddenSize);
            foreach (var (p, e) in best)
            {
                var f = moe.Experts[e];
                var y = nn.functional.linear(nn.functional.silu(nn.functional.linear(token, f.GateProj!.Weight)) * nn.functional.linear(token, f.UpProj.Weight), f.DownProj.Weight);
                expected += y * (p / sum);
            }
            TensorAssert.Close(expected[0], actual.reshape(-1, config.HiddenSize)[n], 1e-6, $"token {n}");
        }
    }

    [Fact]
    public void AMixtralBaseTakesAttentionLorasOnly()
    {
        var config = TinyModels.Config() with { ModelType = "mixtral", NumLocalExperts = 3, NumExpertsPerTok = 1 };
        using var model = TinyModels.Create(config, seed: 4);
        Assert.Equal(["block_sparse_moe.experts.0.w1.weight", "block_sparse_moe.experts.0.w2.weight", "block_sparse_moe.experts.0.w3.weight", "block_sparse_moe.gate.weight"],
            model.named_parameters().Select(p => p.name).Where(n => n.StartsWith("model.layers.0.block_sparse_moe.gate") || n.StartsWith("model.layers.0.block_sparse_moe.experts.0."))
                .Select(n => n["model.layers.0.".Length..]).Order(StringComparer.Ordinal));
        using var ids = tensor(new long[] { 1, 5, 9, 20 }).unsqueeze(0);
        using var _ = no_grad();
        using var before = model.Forward(ids);
        var ffnLora = AdapterConfig.Parse("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"lora_dropout\": 0.0, \"target_modules\": [\"q_proj\", \"gate_proj\"]}", "(test)");
        Assert.Contains("model_type \"mixtral\" has no projection \"gate_proj\" (it has: q_proj, k_proj, v_proj, o_proj)", Assert.Throws<InvalidFileException>(() => Adapter.Create(model, ffnLora)).Message);
        var mixLora = MixLoraConfig("[\"q_proj\"]");
        Assert.Contains("MixLoRA needs a dense base model", Assert.Throws<MixLoraException>(() => Adapter.Create(model, mixLora)).Message);
        using (var after = model.Forward(ids)) TensorAssert.Close(before.Logits, after.Logits, 0, "refused adapters leave the model untouched");

        var attention = AdapterConfig.Parse("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"lora_dropout\": 0.0, \"target_modules\": [\"q_proj\", \"v_proj\"]}", "(test)");
        using var adapter = Adapter.Create(model, attention);
        foreach (var (name, p) in adapter.NamedTensors) if (name.Contains("lora_B")) p.fill_(0.1);
        using var adapted = model.Forward(ids);
        Assert.True(adapted.Logits.sub(before.Logits).abs().max().item<float>() > 1e-4, "the attention LoRA changes the logits");
    }

    [Fact]
    public void BadMixtralConfigsAreNamed()
    {
        var e = Assert.Throws<InvalidFileException>(() => (TinyModels.Config() with { ModelType = "mixtral", NumLocalExperts = 2, NumExpertsPerTok = 3 }).Validate("config.json"));
        Assert.Contains("num_experts_per_tok must be between 1 and num_local_experts (2), got 3", e.Message);
    }

    [Fact]
    public void TheMergeCommandWritesAMixtralFolderThatInfoDescribes()
    {
        using var dir = new TempDir();
        var merge = CliRunner.Run("merge", "--model", Stories260K.Dir, "--adapter", RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"), "--output", dir.File("moe"));
        Assert.True(merge.ExitCode == 0, merge.Err);
        Assert.Contains("as a Mixtral model (4 experts, top-2)", merge.Err);
        var info = CliRunner.Run("info", dir.File("moe"));
        Assert.True(info.ExitCode == 0, info.Err);
        Assert.Contains("sparse mixture of 4 experts, top-2", info.Out);
    }
}
