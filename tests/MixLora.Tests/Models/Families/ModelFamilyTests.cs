using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using MixLora.Models;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using MixLora.Training;
using static MixLora.Tests.Models.Families.FamilyReference;
using static TorchSharp.torch;

namespace MixLora.Tests.Models.Families;

/// <summary>
/// Every supported family beyond llama/mistral/qwen2 on a tiny random model: the logits agree with an independent
/// rewrite of the HF formulas, each distinguishing feature matters, KV-cached decoding and padded batches equal plain
/// recomputation, folders load, and LoRA and MixLoRA adapters train, save and reload with the reference names.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class ModelFamilyTests
{
    private static readonly long[] Ids = [1, 17, 250, 3, 99, 512, 45, 7, 300, 21, 8, 590];

    public static TheoryData<string> Families => FamilyConfigs.Names;

    public static TheoryData<string, Feature> FamilyFeatures => new()
    {
        { "qwen3", Feature.QkNorm }, { "qwen3", Feature.SlidingWindow },
        { "gemma", Feature.EmbeddingScale }, { "gemma", Feature.NormPlusOne }, { "gemma", Feature.GeluTanh },
        { "gemma2", Feature.SandwichNorms }, { "gemma2", Feature.AttentionSoftcap }, { "gemma2", Feature.FinalSoftcap },
        { "gemma2", Feature.SlidingWindow }, { "gemma2", Feature.QueryScale },
        { "gemma3_text", Feature.QkNorm }, { "gemma3_text", Feature.LocalRope }, { "gemma3_text", Feature.SlidingWindow },
        { "gemma3_text", Feature.AttentionSoftcap }, { "gemma3_text", Feature.QueryScale }, { "gemma3_text", Feature.SandwichNorms },
        { "phi3", Feature.PartialRotary }, { "phi3", Feature.LongRope }, { "phi3", Feature.SlidingWindow },
        { "phi", Feature.ParallelBlock }, { "phi", Feature.PartialRotary }, { "phi", Feature.LayerNorm }, { "phi", Feature.GeluTanh },
    };

    /// <summary>Each family's adapter targets (attention and FFN) and the file name of one of its expert/FFN tensors.</summary>
    private static (string Targets, string FfnProjection) AdapterTargets(string family) => family switch
    {
        "phi3" => ("\"qkv_proj\", \"o_proj\", \"gate_up_proj\", \"down_proj\"", "gate_up_proj"),
        "phi" => ("\"q_proj\", \"v_proj\", \"dense\", \"fc1\", \"fc2\"", "fc1"),
        _ => ("\"q_proj\", \"v_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"", "up_proj"),
    };

    private static CausalLM Model(string family) => TinyModels.Create(FamilyConfigs.Get(family), seed: 5);

    private static Tensor Logits(CausalLM model, long[] ids)
    {
        using var _ = no_grad();
        using var output = model.Forward(tensor(ids).unsqueeze(0));
        return output.Logits[0].clone();                                                          // [T, V]
    }

    /// <summary>
    /// Scales the query and key projections up so that attention is far from uniform: at the random weights' std of
    /// 0.02 the scores are about 0.02 apart and how positions are rotated barely shows in the logits.
    /// </summary>
    private static CausalLM Sharpened(CausalLM model)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
            if (name.Contains("q_proj.weight") || name.Contains("k_proj.weight") || name.Contains("qkv_proj.weight")) parameter.mul_(12);
        return model;
    }

    private static bool IsRotaryFeature(Feature feature) => feature is Feature.PartialRotary or Feature.LongRope or Feature.LocalRope;

    private static Dictionary<string, Tensor> Weights(CausalLM model) =>
        model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    [Theory]
    [MemberData(nameof(Families))]
    public void LogitsEqualAnIndependentComputationOfTheHfFormulas(string family)
    {
        using var model = Model(family);
        using var actual = Logits(model, Ids);
        using var expected = FamilyReference.Logits(model.Config, Weights(model), Ids).to(ScalarType.Float32);
        TensorAssert.Close(expected, actual, 1e-5, $"{family} logits");
    }

    [Fact]
    public void Phi3LongSequencesUseTheLongFactors()
    {
        using var model = Sharpened(Model("phi3"));
        var ids = Enumerable.Range(0, FamilyConfigs.LongSequence).Select(i => (long)(i * 29 % FamilyConfigs.Vocab)).ToArray();
        using var actual = Logits(model, ids);
        using var expected = FamilyReference.Logits(model.Config, Weights(model), ids).to(ScalarType.Float32);
        TensorAssert.Close(expected, actual, 1e-5, "phi3 logits past original_max_position_embeddings");
        // The first 12 positions differ from a 12-token forward: the whole sequence switched to the long factors.
        using var shortRun = Logits(model, ids[..12]);
        Assert.True(TensorAssert.MaxAbsDiff(shortRun, actual.narrow(0, 0, 12)) > 1e-3, "the long factors apply to every position");
    }

    [Fact]
    public void ATiedPhiHeadKeepsItsBias()
    {
        using var model = TinyModels.Create(FamilyConfigs.Get("phi") with { TieWordEmbeddings = true }, seed: 5);
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("lm_head.bias", names);
        Assert.DoesNotContain("lm_head.weight", names);
        using var actual = Logits(model, Ids);
        using var expected = FamilyReference.Logits(model.Config, Weights(model), Ids).to(ScalarType.Float32);
        TensorAssert.Close(expected, actual, 1e-5, "tied phi logits");
    }

    [Fact]
    public void Phi3RowsOfABatchChooseTheirLongRopeFactorsAlone()
    {
        // HF picks the factor set from the largest position in the whole batch; we pick it per row, so a short row
        // batched beside a long one computes what it computes alone.
        using var model = Sharpened(Model("phi3"));
        var longIds = Enumerable.Range(0, FamilyConfigs.LongSequence).Select(i => (long)(i * 29 % FamilyConfigs.Vocab)).ToArray();
        long[] shortIds = Ids[..9];
        int pad = longIds.Length - shortIds.Length;
        using var longAlone = Logits(model, longIds);
        using var shortAlone = Logits(model, shortIds);
        using var _ = no_grad();
        using var ids = stack([tensor(longIds), tensor(new long[pad].Concat(shortIds).ToArray())]);                      // [2, 20]
        using var mask = stack([ones(longIds.Length, dtype: ScalarType.Int64), tensor(Enumerable.Repeat(0L, pad).Concat(Enumerable.Repeat(1L, 9)).ToArray())]);
        using var positions = stack([arange(longIds.Length), tensor(Enumerable.Repeat(0L, pad).Concat(Enumerable.Range(0, 9).Select(i => (long)i)).ToArray())]);
        using var output = model.Forward(ids, mask, positions: positions);
        TensorAssert.Close(longAlone, output.Logits[0], 1e-5, "long row (long factors)");
        TensorAssert.Close(shortAlone, output.Logits[1].narrow(0, pad, 9), 1e-5, "short row (short factors)");
    }

    [Theory]
    [MemberData(nameof(FamilyFeatures))]
    public void SwitchingOffTheFeatureChangesTheLogits(string family, Feature feature)
    {
        using var model = IsRotaryFeature(feature) ? Sharpened(Model(family)) : Model(family);
        using var actual = Logits(model, Ids);
        using var without = FamilyReference.Logits(model.Config, Weights(model), Ids, feature).to(ScalarType.Float32);
        double difference = TensorAssert.MaxAbsDiff(without, actual);
        Assert.True(difference > 1e-3, $"{family} without {feature}: logits move by only {difference:E2}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void CachedDecodingEqualsFullRecomputation(string family)
    {
        using var model = Model(family);
        using var full = Logits(model, Ids);
        AssertCachedDecodingMatches(model, full, family);
    }

    /// <summary>A 4-token prefill then one token at a time (past the window of 5) gives <paramref name="full"/>'s logits.</summary>
    private static void AssertCachedDecodingMatches(CausalLM model, Tensor full, string family)
    {
        using var _ = no_grad();
        using var cache = new KvCache(model.Layers.Count);
        const int prompt = 4;   // the remaining 8 steps run past the window of 5
        using (var first = model.Forward(tensor(Ids[..prompt]).unsqueeze(0), cache: cache))
            TensorAssert.Close(full.narrow(0, 0, prompt), first.Logits[0], 1e-5, $"{family} prefill");
        for (int step = prompt; step < Ids.Length; step++)
        {
            using var output = model.Forward(tensor(new[] { Ids[step] }).unsqueeze(0), cache: cache);
            TensorAssert.Close(full[step], output.Logits[0, 0], 1e-5, $"{family} cached step {step}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void APaddedRowEqualsTheSameSequenceAlone(string family)
    {
        using var model = Model(family);
        long[] shortIds = Ids[..9];
        using var alone = Logits(model, shortIds);
        using var _ = no_grad();
        const int pad = 3;
        using var ids = stack([tensor(Ids), tensor(new long[pad].Concat(shortIds).ToArray())]);                      // [2, 12]
        using var mask = stack([ones(Ids.Length, dtype: ScalarType.Int64), tensor(Enumerable.Repeat(0L, pad).Concat(Enumerable.Repeat(1L, 9)).ToArray())]);
        using var positions = stack([arange(Ids.Length), tensor(Enumerable.Repeat(0L, pad).Concat(Enumerable.Range(0, 9).Select(i => (long)i)).ToArray())]);
        using var output = model.Forward(ids, mask, positions: positions);
        TensorAssert.Close(alone, output.Logits[1].narrow(0, pad, 9), 1e-5, $"{family} padded row");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void AHuggingFaceFolderLoadsToTheSameModel(string family)
    {
        using var dir = new TempDir();
        using var written = TinyModelFolder.Write(dir.Path, FamilyConfigs.Get(family), seed: 5);
        using var loaded = PretrainedModel.Load(dir.Path, new RunOptions());
        Assert.Equal(family == "llama3.2" ? "llama" : family, loaded.Config.ModelType);
        Assert.Equal(written.named_parameters().Select(p => p.name).Order(), loaded.Model.named_parameters().Select(p => p.name).Order());
        using var expected = Logits(written, Ids);
        using var actual = Logits(loaded.Model, Ids);
        TensorAssert.Close(expected, actual, 0, $"{family} reloaded");
    }

    [Theory]
    [InlineData("phi3", "FFN", "dense, silu, fused gate_up_proj (and qkv_proj)")]
    [InlineData("phi3", "RoPE", "theta 10000, 12 of 24 dims, scaling longrope (long factors beyond 16 positions, attention factor 1.2247)")]
    [InlineData("phi", "FFN", "dense, gelu_new, fc1/fc2 in parallel with attention")]
    [InlineData("phi", "RoPE", "theta 10000, 8 of 16 dims")]
    public void InfoDescribesTheFamilysLayout(string family, string key, string expected)
    {
        using var dir = new TempDir();
        using (TinyModelFolder.Write(dir.Path, FamilyConfigs.Get(family), seed: 5)) { }
        using var loaded = PretrainedModel.Load(dir.Path, new RunOptions());
        Assert.Contains((key, expected), loaded.Describe());
    }

    [Theory]
    [InlineData("lora_phi", "phi", "lora", 80)]
    [InlineData("mixlora_phi", "phi", "mixlora", 16)]
    [InlineData("mixlora_dynamic_phi", "phi", "mixlora", 16)]
    [InlineData("lora_phi3", "phi3", "lora", 84)]
    [InlineData("mixlora_phi3", "phi3", "mixlora", 16)]
    [InlineData("mixlora_dynamic_phi3", "phi3", "mixlora", 16)]
    public void TheReferencesPhiTemplatesFitTheirFamily(string template, string family, string name, int rank)
    {
        var adapter = TrainingConfigTemplates.Template(template).Lora[0];
        Assert.Equal((name, (int?)rank, (int?)(2 * rank)), (adapter.Name, adapter.Adapter.R, adapter.Adapter.LoraAlpha));
        using var model = Model(family);
        using var attached = Adapter.Create(model, adapter.Adapter);
        Assert.True(attached.TrainableParameterCount > 0);
        // The LLaMA names are not this family's: one error naming the projection, never a silent skip.
        var error = Assert.ThrowsAny<Exception>(() => Adapter.Create(model, TrainingConfigTemplates.Template("mixlora").Lora[0].Adapter));
        Assert.Contains($"model_type \"{family}\" has no projection", error.Message);
    }

    [Theory]
    [InlineData("qwen3", "LORA")]
    [InlineData("qwen3", "MIXLORA")]
    [InlineData("gemma", "MIXLORA")]
    [InlineData("gemma2", "LORA")]
    [InlineData("gemma2", "MIXLORA")]
    [InlineData("gemma3_text", "MIXLORA")]
    [InlineData("phi3", "LORA")]
    [InlineData("phi3", "MIXLORA")]
    [InlineData("phi", "LORA")]
    [InlineData("phi", "MIXLORA")]
    public void AdaptersTrainAndReloadBitExactly(string family, string peft)
    {
        using var model = Model(family);
        var (targets, ffnProjection) = AdapterTargets(family);
        string json = $"{{\"peft_type\": \"{peft}\", \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.0, \"target_modules\": [{targets}]" +
                      (peft == "MIXLORA" ? ", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2" : "") + "}";
        using var adapter = Adapter.Create(model, AdapterConfig.Parse(json, "(test)"), new AdapterOptions { Seed = 2 });
        using var ids = tensor(Ids).unsqueeze(0).repeat(2, 1);                                    // [2, T]
        var optimizer = optim.AdamW(adapter.TrainableParameters(), lr: 0.02);
        var losses = new List<float>();
        for (int step = 0; step < 25; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using var output = model.ForwardHidden(ids);
            var loss = ChunkedCausalLmLoss.Compute(model, output.Hidden, ids);
            if (adapter.AuxiliaryLoss(output.RouterLogitsOf(adapter)) is { } aux) loss = loss + aux;
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }
        // An absolute fall: gemma2's final cap of 0.3 bounds every logit, so its loss cannot go far below ln V − 0.6.
        Assert.True(losses[^1] < losses[0] - 0.3, $"{family} {peft}: loss {losses[0]:F3} -> {losses[^1]:F3}");

        using var dir = new TempDir();
        adapter.Save(dir.Path);
        var saved = adapter.NamedTensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().bytes.ToArray());
        string expectedName = peft == "MIXLORA"
            ? $"mixlora.layers.1.mlp.{ffnProjection}.experts.3.lora_A.weight"
            : $"base_model.model.model.layers.1.mlp.{ffnProjection}.lora_A.weight";
        Assert.Contains(expectedName, saved.Keys);
        using var trained = Logits(model, Ids);
        AssertCachedDecodingMatches(model, trained, $"{family} {peft} adapter");
        adapter.Detach();
        using var reloaded = Adapter.Load(model, dir.Path);
        foreach (var (name, tensor) in reloaded.NamedTensors)
            Assert.True(saved[name].AsSpan().SequenceEqual(tensor.detach().bytes), $"{name} changed in the round trip");
        using var again = Logits(model, Ids);
        TensorAssert.Close(trained, again, 0, $"{family} {peft} reloaded");
        // Folded into the base weights (Phi-3: into the stacked qkv_proj / gate_up_proj rows) it computes the same.
        reloaded.MergeIntoBase();
        using var merged = Logits(model, Ids);
        TensorAssert.Close(trained, merged, 1e-5, $"{family} {peft} merged into the base");
    }
}
