using System.Text.Json;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Data;
using MixLora.Evaluation;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using MixLora.Training;

namespace MixLora.Tests.Evaluation;

/// <summary>
/// End to end: a MixLoRA adapter trained on a small synthetic two-choice task in the LLM-Adapters PIQA layout ("Tom
/// feels hot" → "cool down" = solution1, "… cold" → "warm up" = solution2) must score far above chance with both
/// protocols, while the base model stays near chance (choice) or never names a candidate (generate). Test questions
/// use people never named in training.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public sealed class SyntheticChoiceTaskTests
{
    private static readonly string[] Verbs = ["feels", "is", "looks", "seems"];

    private static string Records(IEnumerable<string> names) => JsonSerializer.Serialize(
        (from name in names
         from verb in Verbs
         from pair in new[] { ("hot", "solution1"), ("cold", "solution2") }
         select new Dictionary<string, string>
         {
             ["instruction"] = $"{name} {verb} {pair.Item1}. Solution1: cool down Solution2: warm up",
             ["input"] = "",
             ["output"] = $"the correct answer is {pair.Item2}",
             ["answer"] = pair.Item2,
         }).ToList());

    private static long[] EvaluatedSteps(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        return json.RootElement.EnumerateArray().Select(e => e.GetProperty("training_steps").GetInt64()).ToArray();
    }

    [Fact]
    public void AnAdapterTrainedOnTheTaskScoresFarAboveChanceAndTheBaseModelDoesNot()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("piqa"));
        File.WriteAllText(dir.File("piqa/train.json"), Records(["Tom", "Lily", "Ben", "Sue", "Max", "Amy", "Tim", "Ann", "Bob", "Kim", "Joe", "Zoe"]));
        File.WriteAllText(dir.File("piqa/test.json"), Records(["Sam", "Mia", "Jack", "Emma"]));
        var config = TrainingConfig.Parse("""
            {
                "cutoff_len": 256, "save_step": 12, "train_strategy": "optim",
                "lora": [ { "name": "hot", "task_name": "piqa", "data": "piqa", "prompt": "moe_peft", "optim": "adamw", "lr": 5e-3, "scheduler_type": "constant",
                            "batch_size": 8, "micro_batch_size": 8, "num_epochs": 3, "evaluate_batch_size": 16, "evaluate_steps": 24, "train_on_inputs": false,
                            "r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"],
                            "routing_strategy": "mixlora", "num_experts": 4, "top_k": 2 } ]
            }
            """, "(test)");
        // Killed after micro-step 30 (checkpoint at 24, evaluated at 24), then resumed to the end (36).
        using (var trainingModel = Stories260K.Load())
            Trainer.Run(trainingModel, config, new TrainingRunOptions { OutputDir = dir.File("run"), BaseDir = dir.Path, Seed = 3, StopAfterSteps = 30 });
        Assert.Equal([24L], EvaluatedSteps(dir.File("run/hot/evaluation.json")));
        using (var trainingModel = Stories260K.Load())
            Trainer.Run(trainingModel, config, new TrainingRunOptions { OutputDir = dir.File("run"), BaseDir = dir.Path, Seed = 3, Resume = true });

        // The run evaluated the adapter on its task (piqa/test.json next to the training file) at micro-step 24 and at the
        // end; the resume kept the first result and did not repeat it.
        using (var json = JsonDocument.Parse(File.ReadAllText(dir.File("run/hot/evaluation.json"))))
        {
            var entries = json.RootElement.EnumerateArray().ToList();
            Assert.Equal([24L, 36L], entries.Select(e => e.GetProperty("training_steps").GetInt64()));
            Assert.All(entries, e => Assert.Equal("piqa", e.GetProperty("task_name").GetString()));
            Assert.True(entries[^1].GetProperty("metrics").GetProperty("accuracy").GetDouble() >= 0.9);
            Assert.Equal(4, entries[^1].GetProperty("router_profile").GetArrayLength());
        }

        using var model = Stories260K.Load();
        using var adapter = Adapter.Load(model.Model, dir.File("run/hot"));
        // Evaluation renders the records with the template the adapter was trained with.
        var task = EvaluationTasks.Load("piqa", dir.File("piqa/test.json"), new EvaluationDataOptions { Template = PromptTemplate.MoePeft });
        Assert.Equal(32, task.Examples.Count);
        EvaluationTarget[] targets = [new("base", null), new("hot", adapter)];
        foreach (var protocol in new[] { EvaluationProtocol.Choice, EvaluationProtocol.Generate })
        {
            var report = CommonsenseEvaluator.Run(model.Model, model.Tokenizer, targets, [task],
                new EvaluationOptions { Protocol = protocol, BatchSize = 16, MaxNewTokens = 24 }, model.StopIds);
            double trained = report.Find("hot", "piqa")!.Accuracy, baseline = report.Find("base", "piqa")!.Accuracy;
            Assert.True(trained >= 0.9, $"{protocol}: adapter accuracy {trained:P0}");
            Assert.True(baseline <= 0.65, $"{protocol}: base accuracy {baseline:P0} (chance is 50 %)");
        }
    }
}
