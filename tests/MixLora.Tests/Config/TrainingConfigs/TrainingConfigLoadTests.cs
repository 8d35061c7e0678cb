using MixLora.Config;
using MixLora.Tests.Support;

namespace MixLora.Tests.Config.TrainingConfigs;

public class TrainingConfigLoadTests
{
    [Fact]
    public void ReferenceMixLoraTemplateLoadsUnchanged()
    {
        using var dir = new TempDir();
        var path = dir.File("mixlora.json");
        File.WriteAllText(path, TrainingConfigFixtures.MixLoraTemplate);

        var config = TrainingConfig.Load(path);

        Assert.Equal(512, config.CutoffLen);
        Assert.Equal(1000, config.SaveStep);
        Assert.Equal(2, config.TrainLoraCandidateNum);
        Assert.Equal(2, config.EffectiveTrainLoraSimultaneouslyNum);
        Assert.Equal("optim", config.TrainStrategy);
        var a = Assert.Single(config.Lora);
        Assert.Equal("mixlora", a.Name);
        Assert.Equal("", a.TaskName);
        Assert.True(a.IsCasual);
        Assert.Empty(a.TaskKeys);
        Assert.Equal(("adamw", "constant", 0.0, 2e-4), (a.Optim, a.SchedulerType, a.WarmupSteps, a.Lr));
        Assert.Equal((16, 8, 2, 16, 2), (a.BatchSize, a.EffectiveMicroBatchSize, a.AccumulationSteps, a.EvaluateBatchSize, a.NumEpochs));
        Assert.False(a.GroupByLength);
        // Reference defaults for the keys the template leaves out, and ours.
        Assert.Equal((0.0, 0.01, 1.0, 0.0), (a.Momentum, a.WeightDecay, a.LoraPlusLrRatio, a.WarmupRatio));
        Assert.Null(a.Data);
        Assert.Null(a.Prompt);
        Assert.Null(a.EvaluateSteps);
        Assert.True(a.TrainOnInputs);
        Assert.False(a.AddEos);

        var peft = a.Adapter;
        Assert.True(peft.IsTopKRouting);
        Assert.Equal((16, 32, 0.05, 8, 2), (peft.R, peft.LoraAlpha, peft.LoraDropout, peft.NumExperts, peft.EffectiveTopK));
        Assert.Equal(new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" }.Order(), peft.TargetModules!.Order());
    }

    [Fact]
    public void BuiltInMixLoraTemplateEqualsTheReferenceFile()
    {
        var reference = TrainingConfig.Parse(TrainingConfigFixtures.MixLoraTemplate, "mixlora.json");
        Assert.Equal(reference.ToJson(), TrainingConfigTemplates.Template("mixlora").ToJson());
    }

    private const string FullFeatured = """
        {
            "cutoff_len": -1,
            "save_step": 7,
            "train_lora_candidate_num": 4,
            "train_lora_simultaneously_num": 3,
            "train_strategy": "none",
            "inference_lora_simultaneously_num": 2,
            "eval_lora_simultaneously_num": 1,
            "eval_rollback_retrying_steps": 20,
            "evaluate_result": "results.json",
            "lora": [
                {
                    "name": "dyn", "task_name": "casual", "data": "train.jsonl", "prompt": "alpaca",
                    "optim": "sgd", "lr": 2e-5, "momentum": 0.9, "weight_decay": 0.0, "loraplus_lr_ratio": 16.0,
                    "scheduler_type": "cosine_with_restarts", "warmup_ratio": 0.1, "warmup_steps": 5,
                    "batch_size": 12, "micro_batch_size": 4, "num_epochs": 3, "group_by_length": true,
                    "evaluate_batch_size": 8, "evaluate_steps": 50, "train_on_inputs": false, "add_eos": true,
                    "peft_type": "MIXLORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "lora_init": "gaussian",
                    "target_modules": ["q_proj", "gate_proj", "up_proj", "down_proj"],
                    "routing_strategy": "mixlora-dynamic", "num_experts": 4, "top_p": 0.75, "temperature": 0.5,
                    "router_aux_loss_coef": 0.01, "router_init_range": 0.02, "jitter_noise": 0.0, "act_fn": "gelu",
                    "expert_lora": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0}
                },
                {
                    "name": "qa", "task_name": "arc-c;boolq", "data": "a.json;b.json", "lr": 1e-3, "batch_size": 4,
                    "num_epochs": 1, "evaluate_batch_size": 16, "scheduler_type": "linear",
                    "r": 80, "lora_alpha": 160, "lora_dropout": 0.05, "use_dora": true, "use_rslora": true,
                    "target_modules": {"q_proj": true, "k_proj": false, "v_proj": true}
                }
            ]
        }
        """;

    [Fact]
    public void FullFeaturedConfigRoundTripsThroughToJson()
    {
        var config = TrainingConfig.Parse(FullFeatured, "full.json");
        var json = config.ToJson();
        var again = TrainingConfig.Parse(json, "written.json");
        Assert.Equal(json, again.ToJson());

        Assert.Equal((-1, 7, 4, 3, "none"), (again.CutoffLen, again.SaveStep, again.TrainLoraCandidateNum, again.EffectiveTrainLoraSimultaneouslyNum, again.TrainStrategy));
        Assert.Equal(("results.json", 1, 20, 2), (again.EvaluateResult, again.EvalLoraSimultaneouslyNum, again.EvalRollbackRetryingSteps, again.InferenceLoraSimultaneouslyNum));
        var dyn = again.Lora[0];
        Assert.Equal(("sgd", 2e-5, 0.9, 0.0, 16.0), (dyn.Optim, dyn.Lr, dyn.Momentum, dyn.WeightDecay, dyn.LoraPlusLrRatio));
        Assert.Equal(("cosine_with_restarts", 0.1, 5.0), (dyn.SchedulerType, dyn.WarmupRatio, dyn.WarmupSteps));
        Assert.Equal((12, 4, 3, 3, true, 8, 50), (dyn.BatchSize, dyn.EffectiveMicroBatchSize, dyn.AccumulationSteps, dyn.NumEpochs, dyn.GroupByLength, dyn.EvaluateBatchSize, dyn.EvaluateSteps));
        Assert.Equal((false, true, "alpaca", "train.jsonl"), (dyn.TrainOnInputs, dyn.AddEos, dyn.Prompt, dyn.Data));
        Assert.Equal(("gaussian", 0.75, 0.5, 0.01, "gelu"), (dyn.Adapter.LoraInit, dyn.Adapter.TopP, dyn.Adapter.Temperature, dyn.Adapter.RouterAuxLossCoef, dyn.Adapter.ActFn));
        Assert.Equal((4, 8, 0.0), (dyn.Adapter.ExpertLora.Rank, dyn.Adapter.ExpertLora.Alpha, dyn.Adapter.ExpertLora.Dropout));
        var qa = again.Lora[1];
        Assert.Equal(["arc-c", "boolq"], qa.TaskKeys);
        Assert.Equal(["a.json", "b.json"], qa.DataPaths);
        Assert.True(qa.Adapter.UseDora && qa.Adapter.UseRsLora && !qa.Adapter.IsMixLora);
        Assert.Equal(["q_proj", "v_proj"], qa.Adapter.TargetModules);
    }

    [Fact]
    public void ToJsonIndentsByFourAndWritesPythonFloats()
    {
        var json = TrainingConfig.Parse(FullFeatured, "full.json").ToJson();
        Assert.StartsWith("{\n    \"cutoff_len\": -1,\n    \"save_step\": 7,", json);
        Assert.Contains("\n            \"lr\": 2e-05,\n", json);
        Assert.Contains("\"loraplus_lr_ratio\": 16.0,", json);
        Assert.Contains("\"weight_decay\": 0.0,", json);
        Assert.Contains("\"lr\": 0.001,", json);
        Assert.EndsWith("    ]\n}", json);
    }

    [Fact]
    public void RunLengthKeys()
    {
        var minimal = TrainingConfigFixtures.Minimal();
        var defaults = TrainingConfig.Parse(minimal, "c.json").Lora[0];
        Assert.Equal((1.0, null, true), (defaults.NumEpochs, defaults.MaxSteps, defaults.ShuffleEachEpoch));
        Assert.Contains("\"num_epochs\": 1,", TrainingConfig.Parse(minimal, "c.json").ToJson()); // whole epochs stay integers for the reference

        var fractional = TrainingConfig.Parse(minimal.Replace("\"num_epochs\": 1", "\"num_epochs\": 1.5"), "c.json");
        var a = fractional.Lora[0];
        Assert.Equal(1.5, a.NumEpochs);
        Assert.Equal(5, a.TotalOptimizerSteps(48));                  // ceil(3 × 1.5)
        Assert.Equal(5, a.TotalMicroSteps(48));                      // micro = batch: 3 per epoch × 1.5, rounded up
        Assert.Equal(1, (a with { NumEpochs = 0.1 }).TotalOptimizerSteps(10 * 16)); // 10 × 0.1 is 1, not 2
        Assert.Contains("\"num_epochs\": 1.5,", fractional.ToJson());

        // max_steps replaces num_epochs, which may then be left out.
        var steps = TrainingConfig.Parse(minimal.Replace("\"num_epochs\": 1,", "\"max_steps\": 7, \"shuffle_each_epoch\": false,"), "c.json");
        var b = steps.Lora[0];
        Assert.Equal((7, false), (b.MaxSteps, b.ShuffleEachEpoch));
        Assert.Equal(7, b.TotalOptimizerSteps(48));
        Assert.Equal(7, b.TotalMicroSteps(48));                      // 7 × (batch 16 / micro 16)
        Assert.Equal(28, (b with { MicroBatchSize = 4 }).TotalMicroSteps(48)); // 4 micro-batches per optimizer step
        Assert.Equal(steps.ToJson(), TrainingConfig.Parse(steps.ToJson(), "again").ToJson());
    }

    [Fact]
    public void WarmupStepsWinOverWarmupRatioWhenPositive()
    {
        var config = TrainingConfig.Parse(TrainingConfigFixtures.Minimal("\"warmup_ratio\": 0.25, \"warmup_steps\": 3,"), "c.json");
        var a = config.Lora[0];
        Assert.Equal(3, a.TotalOptimizerSteps(33)); // ceil(33 / 16) × 1 epoch
        Assert.Equal(3.0, a.WarmupStepsFor(40));
        Assert.Equal(10.0, (a with { WarmupSteps = 0 }).WarmupStepsFor(40));
        Assert.Equal(10.0, (a with { WarmupSteps = null }).WarmupStepsFor(40));
    }

    [Fact]
    public void DerivedValues()
    {
        var config = TrainingConfig.Parse(TrainingConfigFixtures.Minimal("\"task_name\": \"causal\", \"micro_batch_size\": 4,", "\"train_lora_candidate_num\": 9,"), "c.json");
        var a = config.Lora[0];
        Assert.True(a.IsCasual);
        Assert.Equal(4, a.AccumulationSteps);
        Assert.Equal(1, config.EffectiveTrainLoraSimultaneouslyNum);
        Assert.Equal(2 * 3, (a with { NumEpochs = 3 }).TotalOptimizerSteps(32));
        Assert.Equal(2 * 3, (a with { NumEpochs = 3 }).TotalOptimizerSteps(31));
        Assert.Equal(3 * 3, (a with { NumEpochs = 3 }).TotalOptimizerSteps(33));
        Assert.Equal(256, config.ResolveCutoffLen(new ModelConfig { MaxPositionEmbeddings = 4096 }));
        Assert.Equal(4096, (config with { CutoffLen = -1 }).ResolveCutoffLen(new ModelConfig { MaxPositionEmbeddings = 4096 }));
        Assert.Null(config.CutoffLenWarning(new ModelConfig { MaxPositionEmbeddings = 4096 }));
        // Above the model's context: clamped, and the warning says so and to what.
        Assert.Equal(128, config.ResolveCutoffLen(new ModelConfig { MaxPositionEmbeddings = 128 }));
        Assert.Equal("cutoff_len 256 is above the model's context (max_position_embeddings 128): sequences are cut at 128 tokens",
            config.CutoffLenWarning(new ModelConfig { MaxPositionEmbeddings = 128 }));
        Assert.Same(a, config.FindAdapter("a"));
        Assert.Null(config.FindAdapter("b"));
    }
}
