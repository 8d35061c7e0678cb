using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

public class AdapterTests
{
    private const string Targets = "[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"down_proj\", \"up_proj\"]";

    public static AdapterConfig Config(string extra) => AdapterConfig.Parse(
        "{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, \"target_modules\": " + Targets + ", " + extra + "}", "(test)");

    public static TheoryData<string> IdentityConfigs => new()
    {
        "\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2",
        "\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 3, \"top_k\": 1, \"use_dora\": true, \"use_rslora\": true",
        "\"peft_type\": \"LORA\"",
        "\"peft_type\": \"LORA\", \"use_dora\": true",
    };

    [Theory]
    [MemberData(nameof(IdentityConfigs))]
    public void FreshAdapterReproducesTheBaseLogits(string extra)
    {
        using var model = Stories260K.LoadModel();
        using var _ = no_grad();
        using var ids = GoldenData.Get("input_ids_2").unsqueeze(0);
        using var adapter = Adapter.Create(model, Config(extra), new AdapterOptions { Seed = 3 });
        Assert.True(adapter.TrainableParameterCount > 0);
        using var output = model.Forward(ids);
        TensorAssert.Close(GoldenData.Get("base_logits_2"), output.Logits[0], 1e-4, "fresh adapter logits");
    }

    [Theory]
    [InlineData(AdapterWeightFormat.Bin)]
    [InlineData(AdapterWeightFormat.SafeTensors)]
    public void SaveThenLoadIsBitExact(AdapterWeightFormat format)
    {
        using var dir = new TempDir();
        using var model = Stories260K.LoadModel();
        var config = Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora-dynamic\", \"num_experts\": 3, \"top_p\": 0.7, \"use_dora\": true");
        Dictionary<string, byte[]> saved;
        using (var adapter = Adapter.Create(model, config, new AdapterOptions { Seed = 1 }))
        {
            Randomise(adapter);
            adapter.Save(dir.Path, format);
            saved = adapter.NamedTensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().bytes.ToArray());
            Assert.Contains(saved.Keys, k => k.EndsWith(".magnitude", StringComparison.Ordinal));
        }
        using var reloaded = Adapter.Load(model, dir.Path);
        var names = reloaded.NamedTensors.Select(kv => kv.Key).ToList();
        Assert.Equal(saved.Keys.ToList(), names);
        foreach (var (name, tensor) in reloaded.NamedTensors)
            Assert.True(saved[name].AsSpan().SequenceEqual(tensor.detach().cpu().bytes), $"{name} changed in the round trip");

        // Saving the loaded adapter again gives identical files.
        using var again = new TempDir();
        reloaded.Save(again.Path, format);
        foreach (var file in Directory.GetFiles(dir.Path).Select(Path.GetFileName))
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Path, file!)), File.ReadAllBytes(Path.Combine(again.Path, file!)));
    }

    [Fact]
    public void TrainableTensorsAreExactlyTheOfficialKeys()
    {
        using var model = Stories260K.LoadModel();
        var config = Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2");
        using var adapter = Adapter.Create(model, config);
        var expected = AdapterLayout.Expected(config, model.Config).Select(e => (e.Name, Shape: string.Join(",", e.Shape))).ToList();
        var actual = adapter.NamedTensors.Select(kv => (kv.Key, Shape: string.Join(",", kv.Value.shape))).ToList();
        Assert.Equal(expected, actual);
        Assert.All(adapter.TrainableParameters(), p => Assert.True(p.requires_grad));
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        // Golden adapter: same names as its file.
        var golden = TorchBinFile.Load(RepoPaths.Asset("golden", "mixlora-stories260K", "adapter", "adapter_model.bin"));
        Assert.Equal(golden.Keys.ToList(), adapter.NamedTensors.Select(kv => kv.Key).ToList());
    }

    [Fact]
    public void PlainLoraUsesThePeftLayoutAndRoundTrips()
    {
        using var dir = new TempDir();
        using var model = Stories260K.LoadModel();
        using (var adapter = Adapter.Create(model, Config("\"peft_type\": \"LORA\""), new AdapterOptions { Seed = 2 }))
        {
            Assert.All(adapter.NamedTensors, kv => Assert.StartsWith("base_model.model.model.layers.", kv.Key));
            Assert.Equal(5 * 7 * 2, adapter.NamedTensors.Count);
            Randomise(adapter);
            adapter.Save(dir.Path);
        }
        using var _ = no_grad();
        using var ids = GoldenData.Get("input_ids_1").unsqueeze(0);
        using var reloaded = Adapter.Load(model, dir.Path);
        using var output = model.Forward(ids);
        Assert.True(TensorAssert.MaxAbsDiff(output.Logits[0], GoldenData.Get("base_logits_1")) > 1e-3);
        Assert.Empty(output.RouterLogits);
    }

    [Fact]
    public void DoraMagnitudeIsSavedAndFilesWithoutItLoadLikeTheReference()
    {
        using var dir = new TempDir();
        using var model = Stories260K.LoadModel();
        var config = Config("\"peft_type\": \"LORA\", \"use_dora\": true");
        const string magnitude = "base_model.model.model.layers.0.self_attn.q_proj.magnitude";
        using (var adapter = Adapter.Create(model, config))
        {
            Randomise(adapter);
            using (no_grad()) adapter.NamedTensors.Single(kv => kv.Key == magnitude).Value.mul_(1.5);
            adapter.Save(dir.Path);
        }
        using (var reloaded = Adapter.Load(model, dir.Path))
        {
            var m = reloaded.NamedTensors.Single(kv => kv.Key == magnitude).Value;
            var a = reloaded.NamedTensors.Single(kv => kv.Key == magnitude.Replace("magnitude", "lora_A.weight")).Value;
            var b = reloaded.NamedTensors.Single(kv => kv.Key == magnitude.Replace("magnitude", "lora_B.weight")).Value;
            // Created as ‖W‖ (B = 0), then scaled by 1.5 before saving.
            using var norm = model.Layers[0].SelfAttention.QProj!.Weight.norm(1);
            TensorAssert.Close(norm * 1.5, m, 1e-5, "trained magnitude restored");
        }
        // Drop the magnitudes from the file: m is recomputed as ‖W + s·B A‖ (scale 1), as the reference does.
        var tensors = TorchBinFile.Load(Path.Combine(dir.Path, "adapter_model.bin"));
        foreach (var key in tensors.Keys.Where(k => k.EndsWith(".magnitude", StringComparison.Ordinal)).ToList()) tensors.Remove(key);
        TorchBinFile.Save(Path.Combine(dir.Path, "adapter_model.bin"), tensors);
        using var legacy = Adapter.Load(model, dir.Path);
        var lm = legacy.NamedTensors.Single(kv => kv.Key == magnitude).Value;
        var la = legacy.NamedTensors.Single(kv => kv.Key == magnitude.Replace("magnitude", "lora_A.weight")).Value;
        var lb = legacy.NamedTensors.Single(kv => kv.Key == magnitude.Replace("magnitude", "lora_B.weight")).Value;
        using var legacyNorm = (model.Layers[0].SelfAttention.QProj!.Weight + matmul(lb, la) * 2.0).norm(1);
        TensorAssert.Close(legacyNorm, lm, 1e-5, "recomputed magnitude");
    }

    [Fact]
    public void PeftNamesWriteTheMagnitudeAsHfPeftReadsItAndPeftFilesLoadTheirMagnitudes()
    {
        using var dir = new TempDir();
        using var model = Stories260K.LoadModel();
        const string ours = "base_model.model.model.layers.1.mlp.down_proj.magnitude";
        const string peft = "base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector";
        using (var adapter = Adapter.Create(model, Config("\"peft_type\": \"LORA\", \"use_dora\": true")))
        {
            Randomise(adapter);
            using (no_grad()) foreach (var (name, m) in adapter.NamedTensors.Where(kv => kv.Key.EndsWith(".magnitude"))) m.mul_(1.25);
            adapter.Save(dir.File("both"), peftNames: true);
            adapter.Save(dir.File("ours"));
        }
        var both = TorchBinFile.Load(dir.File("both/adapter_model.bin"));
        var names = both.Keys.ToList();
        Assert.Equal(names.IndexOf(ours) + 1, names.IndexOf(peft));                  // each PEFT key right after ours
        Assert.Equal(names.Count(n => n.EndsWith(".magnitude")), names.Count(n => n.EndsWith(".lora_magnitude_vector")));
        TensorAssert.Close(both[ours], both[peft], 0, "same values under both names");
        Assert.DoesNotContain(TorchBinFile.Load(dir.File("ours/adapter_model.bin")).Keys, n => n.EndsWith(".lora_magnitude_vector"));

        // A file as HF PEFT writes it (only lora_magnitude_vector) keeps its trained magnitudes: not re-initialised.
        var peftOnly = new OrderedDictionary<string, Tensor>(both.Where(kv => !kv.Key.EndsWith(".magnitude")));
        TorchBinFile.Save(dir.File("both/adapter_model.bin"), peftOnly);
        using (var loaded = Adapter.Load(model, dir.File("both")))
            TensorAssert.Close(both[ours], loaded.NamedTensors.Single(kv => kv.Key == ours).Value, 0, "magnitude from the PEFT name");

        // Both names with different values: refused, naming both.
        peftOnly[ours] = both[ours] * 2;
        TorchBinFile.Save(dir.File("both/adapter_model.bin"), peftOnly);
        var error = Assert.Throws<InvalidFileException>(() => Adapter.Load(model, dir.File("both")));
        Assert.Contains($"{peft} and {ours} are the same DoRA magnitude but hold different values", error.Message);

        // MixLoRA adapters are not HF PEFT adapters: the option adds nothing.
        using var mixlora = Adapter.Create(model, Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 2, \"top_k\": 1, \"use_dora\": true"));
        mixlora.Save(dir.File("moe"), peftNames: true);
        Assert.DoesNotContain(TorchBinFile.Load(dir.File("moe/adapter_model.bin")).Keys, n => n.EndsWith(".lora_magnitude_vector"));
    }

    [Fact]
    public void ExpertPathsAgreeOnTheWholeModelInLogitsAndGradients()
    {
        var dir = RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");
        var results = new List<(Tensor Logits, Tensor Grad)>();
        foreach (var path in new[] { ExpertPath.Vanilla, ExpertPath.Shared, ExpertPath.Fused })
        {
            using var model = Stories260K.LoadModel();
            using var adapter = Adapter.Load(model, dir, new AdapterOptions { ExpertPath = path });
            using var ids = GoldenData.Get("input_ids_2").unsqueeze(0);
            using var output = model.Forward(ids);
            using var loss = CausalLmLoss.Compute(output.Logits, ids) + adapter.AuxiliaryLoss(output.RouterLogits)!;
            loss.backward();
            var grad = adapter.NamedTensors.Single(kv => kv.Key == "mixlora.layers.1.mlp.down_proj.experts.2.lora_A.weight").Value.grad!;
            results.Add((output.Logits.detach().clone(), grad.clone()));
        }
        for (int i = 1; i < results.Count; i++)
        {
            // Logits reach ~20 in magnitude: 1e-5 relative to that scale.
            TensorAssert.Close(results[0].Logits, results[i].Logits, 1e-5 * results[0].Logits.abs().max().item<float>(), "logits vs vanilla");
            TensorAssert.Close(results[0].Grad, results[i].Grad, 1e-5, "gradient vs vanilla");
        }
    }

    [Fact]
    public void RouterStatisticsAreAvailableFromTheAdapter()
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Load(model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        var statistics = adapter.CollectRouterStatistics();
        using var _ = no_grad();
        using (model.Forward(GoldenData.Get("input_ids_2").unsqueeze(0))) { }
        var snapshot = statistics.Snapshot();
        // golden.json info.seq2_tokens_per_expert_per_layer: the reference's counts for sequence 2.
        long[][] expected = [[26, 7, 26, 7], [20, 12, 10, 24], [25, 19, 7, 15], [24, 11, 15, 16], [14, 17, 6, 29]];
        Assert.Equal(expected, snapshot.AssignmentCounts);
        Assert.All(snapshot.AssignmentShare, layer => Assert.Equal(1.0, layer.Sum(), 6));
    }

    [Fact]
    public void MissingAdapterFolderIsAClearError()
    {
        using var model = Stories260K.LoadModel();
        var e = Assert.Throws<MixLoraException>(() => Adapter.Load(model, "/nonexistent/adapter"));
        Assert.Contains("adapter folder not found", e.Message);
    }

    /// <summary>Gives every LoRA B a non-zero value so that round trips and outputs are meaningful.</summary>
    private static void Randomise(Adapter adapter)
    {
        using var _ = no_grad();
        var generator = new Generator(17);
        foreach (var (name, p) in adapter.NamedTensors)
            if (name.Contains("lora_B")) p.copy_(randn(p.shape, generator: generator) * 0.05);
    }
}
