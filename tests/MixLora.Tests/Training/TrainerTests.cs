using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

/// <summary>End-to-end training on the bundled stories260K with MoE-PEFT's dummy data (small, a few seconds each).</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class TrainerTests
{
    private const string Targets = "[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"down_proj\", \"up_proj\"]";

    public static string Config(string peft, int batch = 2, int micro = 1, int epochs = 1, int saveStep = 1000, string name = "a",
        string optim = "adamw", double lr = 1e-2, string data = "moe-peft_dummy_data.json", string extraAdapters = "") => $$"""
        {
            "cutoff_len": 48, "save_step": {{saveStep}}, "train_strategy": "optim",
            "lora": [ { "name": "{{name}}", "task_name": "casual", "data": "{{data}}", "prompt": "moe_peft", "optim": "{{optim}}", "scheduler_type": "constant",
                        "lr": {{lr.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "batch_size": {{batch}}, "micro_batch_size": {{micro}},
                        "num_epochs": {{epochs}}, "r": 4, "lora_alpha": 8, "lora_dropout": 0.05, "target_modules": {{Targets}}, {{peft}} } {{extraAdapters}} ]
        }
        """;

    private static TrainingResult Train(string json, string output, bool resume = false, int? stopAfter = null, int limitExamples = 8)
    {
        using var model = Stories260K.Load();
        var config = TrainingConfig.Parse(json, "(test)");
        return Trainer.Run(model, config, new TrainingRunOptions
        {
            OutputDir = output,
            BaseDir = DataDir(limitExamples),
            Resume = resume,
            StopAfterSteps = stopAfter,
            Seed = 7,
        });
    }

    /// <summary>A folder with the first <paramref name="n"/> records of the dummy data set (keeps tests fast).</summary>
    internal static string DataDir(int n)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"mixlora-dummy-{n}");
        var file = Path.Combine(dir, "moe-peft_dummy_data.json");
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(dir);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(RepoPaths.Asset("instruct", "moe-peft_dummy_data.json")));
            var records = doc.RootElement.EnumerateArray().Take(n).Select(e => e.GetRawText());
            MixLora.IO.AtomicFile.WriteAllText(file, "[" + string.Join(",", records) + "]");
        }
        return dir;
    }

    public static TheoryData<string, string> Variants => new()
    {
        { "lora", "\"peft_type\": \"LORA\"" },
        { "dora", "\"peft_type\": \"LORA\", \"use_dora\": true" },
        { "mixlora", "\"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2" },
        { "mixlora-switch", "\"routing_strategy\": \"mixlora-switch\", \"num_experts\": 4, \"expert_capacity\": 64, \"router_init_range\": 0.02" },
        { "mixlora-dynamic", "\"routing_strategy\": \"mixlora-dynamic\", \"num_experts\": 4, \"top_p\": 0.7" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void LossFallsOnTheDummyData(string label, string peft)
    {
        using var dir = new TempDir();
        var result = Train(Config(peft, batch: 2, micro: 2, epochs: 6), dir.Path);
        var metrics = new MetricsLog(Path.Combine(dir.Path, "a")).Read();
        Assert.True(result.Adapters.Single().Completed, label);
        Assert.Equal(24, metrics.Count);
        double first = metrics.Take(4).Average(m => m.Loss), last = metrics.TakeLast(4).Average(m => m.Loss);
        Assert.True(last < 0.7 * first, $"{label}: loss {first:F3} -> {last:F3} did not fall enough");
        Assert.True(File.Exists(Path.Combine(dir.Path, "a", "adapter_model.bin")));
        // The trained adapter loads back onto the base model.
        using var model = Stories260K.Load();
        using var adapter = MixLora.Adapters.Adapter.Load(model.Model, Path.Combine(dir.Path, "a"));
    }

    [Fact]
    public void KillAndResumeEndsBitIdenticalToAnUninterruptedRun()
    {
        using var straight = new TempDir();
        using var resumed = new TempDir();
        string json = Config("\"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2", batch: 2, micro: 1, epochs: 2, saveStep: 3,
            extraAdapters: ", " + SecondAdapter());
        Train(json, straight.Path);
        var killed = Train(json, resumed.Path, stopAfter: 5);          // "killed" after step 5; last checkpoint after step 3
        Assert.True(killed.Interrupted);
        var finished = Train(json, resumed.Path, resume: true);
        Assert.False(finished.Interrupted);
        foreach (var name in new[] { "a", "b" })
        {
            foreach (var file in new[] { "adapter_model.bin", "adapter_config.json" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(straight.Path, name, file)), File.ReadAllBytes(Path.Combine(resumed.Path, name, file)));
            var losses = new MetricsLog(Path.Combine(straight.Path, name)).Read().Select(m => m.Loss);
            Assert.Equal(losses, new MetricsLog(Path.Combine(resumed.Path, name)).Read().Select(m => m.Loss));
        }
    }

    internal static string SecondAdapter() => """
        { "name": "b", "task_name": "casual", "data": "moe-peft_dummy_data.json", "optim": "sgd", "momentum": 0.9, "lr": 0.01,
          "batch_size": 2, "micro_batch_size": 2, "num_epochs": 1, "scheduler_type": "cosine", "warmup_ratio": 0.2,
          "peft_type": "LORA", "use_dora": true, "r": 2, "lora_alpha": 4, "lora_dropout": 0.1, "target_modules": ["q_proj", "v_proj", "down_proj"] }
        """;

    [Fact]
    public void TwoAdaptersTrainedTogetherMatchEachTrainedAlone()
    {
        using var together = new TempDir();
        using var aloneA = new TempDir();
        using var aloneB = new TempDir();
        string a = "\"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2";
        // Dropout 0 so that the shared random stream does not make fused and separate runs differ.
        string both = Config(a, batch: 2, micro: 1, epochs: 1, extraAdapters: ", " + SecondAdapter().Replace("0.1", "0.0")).Replace("0.05", "0.0");
        Train(both, together.Path);
        Train(Config(a, batch: 2, micro: 1, epochs: 1).Replace("0.05", "0.0"), aloneA.Path);
        var onlyB = "{ \"cutoff_len\": 48, \"save_step\": 1000, \"train_strategy\": \"optim\", \"lora\": [" + SecondAdapter().Replace("0.1", "0.0") + "] }";
        Train(onlyB, aloneB.Path);
        AssertSameWeights(Path.Combine(aloneA.Path, "a"), Path.Combine(together.Path, "a"));
        AssertSameWeights(Path.Combine(aloneB.Path, "b"), Path.Combine(together.Path, "b"));
    }

    private static void AssertSameWeights(string expectedDir, string actualDir)
    {
        var expected = TorchBinFile.Load(Path.Combine(expectedDir, "adapter_model.bin"));
        var actual = TorchBinFile.Load(Path.Combine(actualDir, "adapter_model.bin"));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, t) in expected) TensorAssert.Close(t, actual[name], 1e-5, name);
    }

    [Theory]
    [InlineData("\"data\": \"missing.json\"", "missing.json")]
    [InlineData("\"micro_batch_size\": 3", "micro_batch_size")]
    [InlineData("\"lr\": 0", "lr")]
    [InlineData("\"optim\": \"lion\"", "optim")]
    [InlineData("\"scheduler_type\": \"warmup_stable\"", "scheduler_type")]
    public void BadConfigsFailBeforeTraining(string change, string expected)
    {
        using var dir = new TempDir();
        string json = Config("\"routing_strategy\": \"mixlora\", \"num_experts\": 4", batch: 4, micro: 2);
        var key = change.Split(':')[0];
        json = System.Text.RegularExpressions.Regex.Replace(json, key + @": (""[^""]*""|[0-9.e-]+)", change);
        var e = Assert.ThrowsAny<MixLoraException>(() => Train(json, dir.Path));
        Assert.Contains(expected, e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "a")) && Directory.EnumerateFiles(Path.Combine(dir.Path, "a")).Any());
    }

    [Fact]
    public void EmptyDatasetFailsBeforeTraining()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("empty.json"), "[]");
        using var model = Stories260K.Load();
        var config = TrainingConfig.Parse(Config("\"peft_type\": \"LORA\"", data: "empty.json"), "(test)");
        var e = Assert.ThrowsAny<MixLoraException>(() => Trainer.Run(model, config, new TrainingRunOptions { OutputDir = dir.File("out"), BaseDir = dir.Path }));
        Assert.Contains("empty", e.Message);
        Assert.False(Directory.Exists(dir.File("out")));   // a failed run leaves no empty run folder
    }
}
