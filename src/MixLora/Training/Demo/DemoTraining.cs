using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Data;
using MixLora.Evaluation;
using MixLora.IO;

namespace MixLora.Training;

/// <summary>What the demo measured and where it saved its results.</summary>
public sealed record DemoReport(IReadOnlyList<GroupScore> Before, IReadOnlyList<GroupScore> After, string RunDir, string AdapterDir,
    string ConfigPath, IReadOnlyList<string> Plots, TimeSpan TrainingTime, bool Interrupted);

/// <summary>
/// The built-in demo of `mixlora train`: fine-tunes a MixLoRA adapter on the bundled stories260K with a small
/// synthetic multi-task dataset (<see cref="DemoDataset"/>) and measures held-out answer loss and accuracy before and after.
/// It writes its data, prompt template and training config into the run folder, so the same run can be repeated or
/// changed with `mixlora train --config`.
/// </summary>
public static class DemoTraining
{
    public const string AdapterName = "demo";

    public static DemoReport Run(PretrainedModel model, string runDir, long seed, ITrainingObserver? observer, CancellationToken cancellation)
    {
        // The demo owns its folder: a previous demo run there is replaced (its inputs are written again below).
        RunFolder.Prepare(runDir, resume: false, overwrite: true);
        var configPath = WriteInputs(runDir);
        var config = TrainingConfig.Load(configPath);
        var items = DemoDataset.Validation.Select(r => new HeldOutItem(r.Task, DemoDataset.Prompt(r), DemoDataset.FullText(r),
            continuation => DemoDataset.IsCorrect(continuation, r))).ToList();
        var before = HeldOutEvaluation.Run(model.Model, model.Tokenizer, items, stopIds: model.StopIds);

        var clock = Stopwatch.StartNew();
        var result = Trainer.Run(model, config, new TrainingRunOptions
        {
            OutputDir = runDir,
            BaseDir = runDir,
            Overwrite = true,
            Seed = seed,
            Cancellation = cancellation,
        }, observer);
        clock.Stop();
        var adapterDir = Path.Combine(runDir, AdapterName);
        if (result.Interrupted)
            return new DemoReport(before, [], runDir, adapterDir, configPath, [], clock.Elapsed, Interrupted: true);

        using var adapter = Adapter.Load(model.Model, adapterDir);
        var after = HeldOutEvaluation.Run(model.Model, model.Tokenizer, items, stopIds: model.StopIds);
        var plots = Directory.GetFiles(adapterDir, "*.png").OrderBy(p => p, StringComparer.Ordinal).ToList();
        return new DemoReport(before, after, runDir, adapterDir, configPath, plots, clock.Elapsed, Interrupted: false);
    }

    /// <summary>Writes demo_train.json, the prompt template and the training config; returns the config's path.</summary>
    public static string WriteInputs(string runDir)
    {
        var records = new JsonArray(DemoDataset.Train.Select(r => (JsonNode)new JsonObject
        {
            ["instruction"] = r.Instruction,
            ["input"] = "",
            ["output"] = DemoDataset.FullText(r)[DemoDataset.Prompt(r).Length..], // " answer." (the template adds "\n")
        }).ToArray());
        AtomicFile.WriteAllText(Path.Combine(runDir, "demo_train.json"), records.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var template = new JsonObject
        {
            ["description"] = "MixLora.NET demo: a question and a one-word answer.",
            ["prompt_input"] = "Q: {instruction} {input}\nA:",
            ["prompt_no_input"] = "Q: {instruction}\nA:",
            ["response_split"] = "A:",
        };
        AtomicFile.WriteAllText(Path.Combine(runDir, "demo_template.json"), template.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var configPath = Path.Combine(runDir, "demo_config.json");
        AtomicFile.WriteAllText(configPath, ConfigJson);
        return configPath;
    }

    /// <summary>The demo's MoE-PEFT training config (hyper-parameters chosen for a few minutes on 2 CPU cores).</summary>
    public const string ConfigJson = """
        {
            "cutoff_len": 64,
            "save_step": 50,
            "train_lora_simultaneously_num": 1,
            "train_strategy": "optim",
            "lora": [
                {
                    "name": "demo",
                    "task_name": "casual",
                    "data": "demo_train.json",
                    "prompt": "demo_template.json",
                    "optim": "adamw",
                    "lr": 0.005,
                    "weight_decay": 0.0,
                    "scheduler_type": "cosine",
                    "warmup_ratio": 0.05,
                    "batch_size": 16,
                    "micro_batch_size": 16,
                    "num_epochs": 1,
                    "train_on_inputs": false,
                    "r": 8,
                    "lora_alpha": 16,
                    "lora_dropout": 0.0,
                    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"],
                    "routing_strategy": "mixlora",
                    "num_experts": 4,
                    "top_k": 2,
                    "router_aux_loss_coef": 0.01
                }
            ]
        }
        """;
}
