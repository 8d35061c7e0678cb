using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config.TrainingConfigs;

/// <summary>TrainingConfigTemplates.Generate follows the reference's launch.py gen (spec §4.4).</summary>
public class TrainingConfigGenTests
{
    private static readonly string DummyData = RepoPaths.Asset("instruct", "moe-peft_dummy_data.json");

    private static TrainingConfig Gen(string template, string tasks, bool multiTask = false) =>
        TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = template, Tasks = tasks, MultiTask = multiTask });

    private static TrainingConfig WriteAndLoad(TrainingConfig config)
    {
        using var dir = new TempDir();
        var path = dir.File("moe_peft.json");
        File.WriteAllText(path, config.ToJson());
        var loaded = TrainingConfig.Load(path);
        Assert.Equal(config.ToJson(), loaded.ToJson());
        return loaded;
    }

    [Fact]
    public void OneAdapterPerTaskNamedAfterTheTask()
    {
        var config = WriteAndLoad(Gen("mixlora", "arc-c;boolq;winogrande"));
        Assert.Equal(["arc_c_0", "boolq_1", "winogrande_2"], config.Lora.Select(a => a.Name));
        Assert.Equal(["arc-c", "boolq", "winogrande"], config.Lora.Select(a => a.TaskName));
        Assert.All(config.Lora, a =>
        {
            Assert.Null(a.Data);
            Assert.Null(a.Prompt);
            Assert.Equal((16, 8, 16, 2, 2e-4), (a.BatchSize, a.MicroBatchSize, a.EvaluateBatchSize, a.NumEpochs, a.Lr));
            Assert.True(a.Adapter.IsTopKRouting);
            Assert.Equal((8, 2, 16, 32), (a.Adapter.NumExperts, a.Adapter.EffectiveTopK, a.Adapter.R, a.Adapter.LoraAlpha));
        });
        Assert.Equal((512, 1000, 2, 2, "optim"), (config.CutoffLen, config.SaveStep, config.TrainLoraCandidateNum, config.TrainLoraSimultaneouslyNum, config.TrainStrategy));
    }

    [Fact]
    public void DatasetPathsBecomeCasualAdaptersWithTheAlpacaPrompt()
    {
        var config = WriteAndLoad(Gen("lora", $"arc-e;{DummyData}"));
        Assert.Equal(["arc_e_0", "casual_1"], config.Lora.Select(a => a.Name));
        var casual = config.Lora[1];
        Assert.Equal(("casual", DummyData, "alpaca"), (casual.TaskName, casual.Data, casual.Prompt));
        Assert.False(casual.Adapter.IsMixLora);
        Assert.Equal((80, 160, 7), (casual.Adapter.R, casual.Adapter.LoraAlpha, casual.Adapter.TargetModules!.Count));
    }

    [Fact]
    public void MultiTaskMakesOneAdapter()
    {
        var config = WriteAndLoad(TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions
        {
            Template = "mixlora_dynamic", Tasks = "arc-c;boolq", MultiTask = true, DataPath = "arc.json;boolq.json",
        }));
        var a = Assert.Single(config.Lora);
        Assert.Equal(("multi_task_0", "arc-c;boolq", "arc.json;boolq.json"), (a.Name, a.TaskName, a.Data));
        Assert.Equal(["arc-c", "boolq"], a.TaskKeys);
        Assert.True(a.Adapter.IsDynamicRouting);
        Assert.Equal(0.8, a.Adapter.TopP);
    }

    [Fact]
    public void SwitchAndDoraTemplates()
    {
        var sw = WriteAndLoad(Gen("mixlora_switch", "boolq")).Lora[0].Adapter;
        Assert.True(sw.IsSwitchRouting);
        Assert.Equal((8, 32, 0.01, 1.0, 0.001), (sw.NumExperts, sw.EffectiveExpertCapacity, sw.EffectiveJitterNoise, sw.EffectiveRouterInitRange, sw.EffectiveRouterZLossCoef));

        var dora = WriteAndLoad(Gen("dora", "boolq")).Lora[0].Adapter;
        Assert.True(dora.UseDora);
        Assert.Equal((80, 160), (dora.R, dora.LoraAlpha));
        Assert.False(Gen("lora", "boolq").Lora[0].Adapter.UseDora);
    }

    [Fact]
    public void OverridesReachTheirKeys()
    {
        var config = WriteAndLoad(TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions
        {
            Template = "mixlora", Tasks = "arc-c;boolq", AdapterName = "mine", DataPath = "c/arc.json;c/boolq.json", Prompt = "moe_peft",
            CutoffLen = 128, SaveStep = 10, SchedulerType = "cosine", WarmupSteps = 4, Lr = 3e-4, BatchSize = 8, MicroBatchSize = 2,
            EvaluateSteps = 20, EvaluateBatchSize = 4, NumEpochs = 5, LoraPlusLrRatio = 8, UseDora = true, UseRsLora = true,
            GroupByLength = true, TrainOnInputs = false, AddEos = true,
        }));
        Assert.Equal((128, 10), (config.CutoffLen, config.SaveStep));
        Assert.Equal(["mine_0", "mine_1"], config.Lora.Select(a => a.Name));
        Assert.Equal(["c/arc.json", "c/boolq.json"], config.Lora.Select(a => a.Data));
        var a = config.Lora[1];
        Assert.Equal(("boolq", "moe_peft", "cosine", 4.0, 3e-4), (a.TaskName, a.Prompt, a.SchedulerType, a.WarmupSteps, a.Lr));
        Assert.Equal((8, 2, 20, 4, 5, 8.0), (a.BatchSize, a.MicroBatchSize, a.EvaluateSteps, a.EvaluateBatchSize, a.NumEpochs, a.LoraPlusLrRatio));
        Assert.True(a.Adapter.UseDora && a.Adapter.UseRsLora && a.GroupByLength && a.AddEos && !a.TrainOnInputs);
    }

    [Fact]
    public void AppendContinuesTheNumbering()
    {
        var first = Gen("mixlora", "arc-c");
        var both = TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = "lora", Tasks = "boolq;arc-c" }, first);
        Assert.Equal(["arc_c_0", "boolq_1", "arc_c_2"], both.Lora.Select(a => a.Name));
        Assert.True(both.Lora[0].Adapter.IsMixLora);
        Assert.False(both.Lora[2].Adapter.IsMixLora);
    }

    [Theory]
    [InlineData("mixlora_glm", "boolq", "unknown template \"mixlora_glm\" (valid: mixlora, mixlora_dynamic, mixlora_switch, lora, dora, mixlora_phi, mixlora_phi3, mixlora_dynamic_phi, mixlora_dynamic_phi3, lora_phi, lora_phi3)")]
    [InlineData("mixlora", "arc-z", "task \"arc-z\" is neither a task key (arc-e, arc-c, boolq, obqa, piqa, siqa, hellaswag, winogrande) nor an existing .json/.jsonl data file")]
    [InlineData("mixlora", "csqa", "task \"csqa\" is a reference task this library does not support")]
    [InlineData("mixlora", "boolq;;piqa", "--tasks \"boolq;;piqa\": expected task keys or data files joined by ';'")]
    [InlineData("mixlora", "nope.json", "task \"nope.json\" is neither a task key")]
    public void BadArgumentsAreReported(string template, string tasks, string expected)
    {
        var e = Assert.ThrowsAny<MixLoraException>(() => Gen(template, tasks));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void DataPathCountMustMatchTheTasks()
    {
        var e = Assert.ThrowsAny<MixLoraException>(() => TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = "lora", Tasks = "arc-c;boolq", DataPath = "a.json" }));
        Assert.Contains("--data-path \"a.json\" gives 1 path(s) for 2 task(s)", e.Message);
    }

    [Fact]
    public void InvalidOverridesFailValidation()
    {
        var e = Assert.ThrowsAny<MixLoraException>(() => TrainingConfigTemplates.Generate(new TrainingConfigGenerateOptions { Template = "lora", Tasks = "boolq", BatchSize = 4 }));
        Assert.Equal("generated config: lora[0] (\"boolq_0\"): micro_batch_size 8 must divide batch_size 4", e.Message);
    }
}
