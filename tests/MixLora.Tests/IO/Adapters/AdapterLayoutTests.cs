using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO.Adapters;

public class AdapterLayoutTests
{
    private const string PlainLora = """
        {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["v_proj", "q_proj", "down_proj"],
         "base_model_name_or_path": "stories260K-hf", "task_type": "CAUSAL_LM", "fan_in_fan_out": false, "inference_mode": true}
        """;

    [Fact]
    public void ExpectedEqualsTheGoldenFileKeysOrderAndShapes()
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var expected = AdapterLayout.Expected(config, GoldenAdapter.BaseModel);
        var golden = GoldenAdapter.BinTensors();
        Assert.Equal(golden.Keys, expected.Select(e => e.Name));
        foreach (var (name, shape) in expected) Assert.Equal(golden[name].shape, shape);

        // Spot checks of spec §5.3 on stories260K (H 64, I 172, 8 heads, 4 KV heads, head_dim 8, r 4, E 4).
        var byName = expected.ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal([4L, 64], byName["mixlora.layers.0.mlp.moe_gate.weight"]);
        Assert.Equal([32L, 4], byName["mixlora.layers.1.self_attn.k_proj.lora_B.weight"]);
        Assert.Equal([4L, 64], byName["mixlora.layers.4.self_attn.o_proj.lora_A.weight"]);
        Assert.Equal([4L, 172], byName["mixlora.layers.2.mlp.down_proj.experts.3.lora_A.weight"]);
        Assert.Equal([172L, 4], byName["mixlora.layers.2.mlp.up_proj.experts.0.lora_B.weight"]);
        AdapterLayout.Check(GoldenAdapter.Dir, config, GoldenAdapter.BaseModel, golden);
        GoldenAdapter.DisposeAll(golden);
    }

    [Fact]
    public void CheckListsMissingUnexpectedAndWrongShapeTensorsInOneError()
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var tensors = GoldenAdapter.BinTensors();
        tensors.Remove("mixlora.layers.2.mlp.up_proj.experts.3.lora_B.weight", out var removed);
        tensors.Add("mixlora.layers.0.mlp.extra.weight", zeros(2));
        var kB = "mixlora.layers.1.self_attn.k_proj.lora_B.weight";
        var original = tensors[kB];
        tensors[kB] = zeros(64, 4);

        var error = Assert.Throws<InvalidFileException>(() => AdapterLayout.Check(GoldenAdapter.Dir, config, GoldenAdapter.BaseModel, tensors));
        Assert.Equal(GoldenAdapter.Dir, error.FilePath);
        Assert.Contains("1 missing tensor(s): mixlora.layers.2.mlp.up_proj.experts.3.lora_B.weight", error.Message);
        Assert.Contains("1 unexpected tensor(s): mixlora.layers.0.mlp.extra.weight", error.Message);
        Assert.Contains($"{kB}: expected [32, 4], found [64, 4]", error.Message);
        GoldenAdapter.DisposeAll(tensors);
        removed?.Dispose();
        original.Dispose();
    }

    [Fact]
    public void CheckRejectsEachProblemAlone()
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var golden = GoldenAdapter.BinTensors();
        void Fails(Action<OrderedDictionary<string, Tensor>> damage, string fragment)
        {
            var copy = new OrderedDictionary<string, Tensor>(golden);
            damage(copy);
            var error = Assert.Throws<InvalidFileException>(() => AdapterLayout.Check(GoldenAdapter.Dir, config, GoldenAdapter.BaseModel, copy));
            Assert.Contains(fragment, error.Message);
        }
        Fails(t => t.Remove("mixlora.layers.4.mlp.moe_gate.weight"), "missing tensor(s): mixlora.layers.4.mlp.moe_gate.weight");
        Fails(t => t.Add("mixlora.layers.5.mlp.moe_gate.weight", zeros(4, 64)), "unexpected tensor(s): mixlora.layers.5.mlp.moe_gate.weight");
        Fails(t => t["mixlora.layers.0.mlp.gate_proj.experts.0.lora_A.weight"] = zeros(4, 172), "expected [4, 64], found [4, 172]");
        Fails(t => t["mixlora.layers.0.mlp.moe_gate.weight"] = zeros([4, 64], ScalarType.Int64), "not floating point");
        GoldenAdapter.DisposeAll(golden);
    }

    [Fact]
    public void AnAdapterForAnotherModelSizeIsRejected()
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var wider = GoldenAdapter.BaseModel with { IntermediateSize = 176, NumHiddenLayers = 4 };
        var golden = GoldenAdapter.BinTensors();
        var error = Assert.Throws<InvalidFileException>(() => AdapterLayout.Check(GoldenAdapter.Dir, config, wider, golden));
        Assert.Contains("unexpected tensor(s): mixlora.layers.4.", error.Message);
        Assert.Contains("expected [4, 176], found [4, 172]", error.Message);
        GoldenAdapter.DisposeAll(golden);
    }

    [Fact]
    public void PlainLoraUsesPeftNamesAndLoadsThroughTheSameFolderCode()
    {
        var config = AdapterConfig.Parse(PlainLora, "plain");
        var baseModel = GoldenAdapter.BaseModel;
        var expected = AdapterLayout.Expected(config, baseModel);
        Assert.Equal(5 * 3 * 2, expected.Count);
        Assert.Equal(
            [
                ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "2,64"),
                ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", "64,2"),
                ("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", "2,64"),
                ("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", "32,2"),
                ("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", "2,172"),
                ("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight", "64,2"),
                ("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", "2,64"),
            ],
            expected.Take(7).Select(e => (e.Name, string.Join(",", e.Shape))));

        // An HF-PEFT-shaped folder (safetensors, tensors in alphabetical order as PEFT's dict may have them).
        using var dir = new TempDir();
        var generator = new Generator(7);
        var tensors = expected.OrderBy(e => e.Name, StringComparer.Ordinal)
            .Select(e => new KeyValuePair<string, Tensor>(e.Name, randn(e.Shape, generator: generator))).ToList();
        File.WriteAllText(dir.File(AdapterFolder.ConfigFileName), PlainLora);
        SafeTensorsFile.Save(dir.File(AdapterFolder.SafeTensorsFileName), tensors);
        var (loadedConfig, loaded) = AdapterFolder.Load(dir.Path, baseModel);
        Assert.False(loadedConfig.IsMixLora);
        GoldenAdapter.AssertSameTensors(tensors, loaded);
        Assert.Equal(2.0, loadedConfig.AttentionLora.Scaling);
        GoldenAdapter.DisposeAll(tensors);
        GoldenAdapter.DisposeAll(loaded);
    }

    [Fact]
    public void DoraMagnitudesFollowEachPairAndMayBeAbsent()
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath) with
        {
            ExpertLoraOverrides = new ExpertLoraConfig { UseDora = true, R = 2 },
        };
        var expected = AdapterLayout.Expected(config, GoldenAdapter.BaseModel);
        var names = expected.Select(e => e.Name).ToList();
        Assert.DoesNotContain("mixlora.layers.0.self_attn.q_proj.magnitude", names); // attention LoRAs are plain LoRA here
        int a = names.IndexOf("mixlora.layers.0.mlp.down_proj.experts.1.lora_A.weight");
        Assert.Equal(
            ["mixlora.layers.0.mlp.down_proj.experts.1.lora_B.weight", "mixlora.layers.0.mlp.down_proj.experts.1.magnitude", "mixlora.layers.0.mlp.down_proj.experts.2.lora_A.weight"],
            names.Skip(a + 1).Take(3));
        Assert.Equal([64L], expected[a + 2].Shape);
        Assert.Equal([2L, 172], expected[a].Shape);

        var withMagnitudes = expected.Select(e => new KeyValuePair<string, Tensor>(e.Name, ones(e.Shape))).ToList();
        var without = new OrderedDictionary<string, Tensor>(withMagnitudes.Where(kv => !kv.Key.EndsWith(".magnitude")));
        AdapterLayout.Check("dora", config, GoldenAdapter.BaseModel, new OrderedDictionary<string, Tensor>(withMagnitudes));
        AdapterLayout.Check("dora", config, GoldenAdapter.BaseModel, without);

        var badMagnitude = new OrderedDictionary<string, Tensor>(withMagnitudes) { ["mixlora.layers.3.mlp.up_proj.experts.0.magnitude"] = ones(172, 1) };
        var error = Assert.Throws<InvalidFileException>(() => AdapterLayout.Check("dora", config, GoldenAdapter.BaseModel, badMagnitude));
        Assert.Contains("mixlora.layers.3.mlp.up_proj.experts.0.magnitude: expected [172], found [172, 1]", error.Message);
        GoldenAdapter.DisposeAll(withMagnitudes);
    }

    [Fact]
    public void ExpectedRejectsTargetsTheModelLacks()
    {
        var config = AdapterConfig.Parse(PlainLora.Replace("\"down_proj\"", "\"fc2\""), "plain");
        var error = Assert.Throws<InvalidFileException>(() => AdapterLayout.Expected(config, GoldenAdapter.BaseModel));
        Assert.Contains("fc2", error.Message);
    }
}
