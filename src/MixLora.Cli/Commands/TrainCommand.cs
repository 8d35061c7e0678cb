using System.CommandLine;
using MixLora.Config;
using MixLora.IO;
using MixLora.Training;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora train`: fine-tune the adapters of a MoE-PEFT training config (no --config: the built-in demo).</summary>
public static class TrainCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var config = new Option<string?>("--config", "-c") { Description = "MoE-PEFT training config (JSON; see `mixlora init`). Without it, the built-in demo runs." };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder: one sub-folder per adapter (adapter files, metrics.jsonl, plots) and the resume checkpoint. Default: ./runs/<config name>." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in the run folder; the result equals an uninterrupted run." };
        var peftNames = new Option<bool>("--peft-names") { Description = "Plain-LoRA DoRA adapters: also save each trained magnitude as HF PEFT's lora_magnitude_vector, so HF PEFT loads it (the reference re-initialises magnitudes whatever the name)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start afresh in a run folder that holds an earlier run (its checkpoint and adapter folders are deleted; other files are kept)." };
        var seed = new Option<long>("--seed") { Description = "Seed of data order, initialisation, dropout and router jitter.", DefaultValueFactory = _ => 42 };
        var deterministic = new Option<bool>("--deterministic") { Description = "Use one CPU thread so results are identical across machines." };
        var expertPath = new Option<string>("--expert-path") { Description = "MixLoRA expert computation: auto, vanilla, shared or fused (same numbers).", DefaultValueFactory = _ => "auto" };
        var checkpointing = new Option<bool>("--activation-checkpointing") { Description = "Recompute each decoder layer in the backward pass: far less activation memory, about 1.5x the step time, same results (with --config)." };
        var noEvaluate = new Option<bool>("--no-evaluate") { Description = "Skip the evaluation of adapters that name commonsense tasks (by default: every evaluate_steps micro-steps and at the end)." };
        var evalData = new Option<string?>("--eval-data") { Description = "Folder with task test files, used when none sits next to the training data. Default: the bundled test sets." };
        var logEvery = new Option<int>("--log-every") { Description = "When output is redirected, print a progress line every N steps.", DefaultValueFactory = _ => 10 };
        var command = new Command("train", "Fine-tune LoRA/MixLoRA adapters (several at once in fused batches) on a frozen base model.")
        {
            config, output, resume, overwrite, peftNames, seed, deterministic, expertPath, checkpointing, noEvaluate, evalData, logEvery,
        };
        common.AddTo(command);
        command.SetAction(parse =>
        {
            var configPath = parse.GetValue(config);
            if (configPath is null) return DemoRunner.Run(console, parse, common, parse.GetValue(output), parse.GetValue(seed), parse.GetValue(logEvery));
            var trainingConfig = TrainingConfig.Load(configPath);
            var outputDir = parse.GetValue(output) ?? Path.Combine("runs", Path.GetFileNameWithoutExtension(configPath));
            // Everything that can be checked is checked before the model loads and the data is tokenised.
            OutputPath.CheckFolder(outputDir, "--output");
            RunFolder.ThrowIfUnusable(outputDir, parse.GetValue(resume), parse.GetValue(overwrite));
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); console.Info("stopping after this step (checkpoint)…"); };
            Console.CancelKeyPress += onCancel;
            try
            {
                var options = new TrainingRunOptions
                {
                    OutputDir = outputDir,
                    BaseDir = Path.GetDirectoryName(Path.GetFullPath(configPath))!,
                    Resume = parse.GetValue(resume),
                    Overwrite = parse.GetValue(overwrite),
                    PeftNames = parse.GetValue(peftNames),
                    Seed = parse.GetValue(seed),
                    Deterministic = parse.GetValue(deterministic),
                    ExpertPath = new AdapterOptionsCli().ParsePath(parse.GetValue(expertPath)!),
                    ActivationCheckpointing = parse.GetValue(checkpointing),
                    Evaluate = !parse.GetValue(noEvaluate),
                    EvaluationDataDir = parse.GetValue(evalData) ?? CommonOptions.BundledDataDir,
                    Cancellation = cancel.Token,
                };
                var view = new TrainingProgressView(console, parse.GetValue(logEvery));
                var result = view.Run(!Console.IsOutputRedirected && ReferenceEquals(console.Out, Console.Out),
                    () => Trainer.Run(model, trainingConfig, options, view));
                foreach (var a in result.Adapters)
                    console.Info(a.Completed ? $"adapter \"{a.Name}\": {a.MicroSteps} micro-steps, final loss {a.FinalLoss:F4} -> {a.Directory}"
                        : $"adapter \"{a.Name}\": not finished ({a.StoppedReason ?? "interrupted"})");
                if (result.Interrupted) return 130;
                return result.Adapters.All(a => a.Completed) ? 0 : 1;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return command;
    }
}
