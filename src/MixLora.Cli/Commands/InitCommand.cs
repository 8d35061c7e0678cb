using System.CommandLine;
using System.Globalization;
using MixLora.Config;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora init`: write a training config from a template (the reference's `launch.py gen`).</summary>
public static class InitCommand
{
    public static Command Create(CliConsole console)
    {
        var template = new Option<string>("--template") { Description = $"Config template: {string.Join(", ", TrainingConfigTemplates.Names)}.", DefaultValueFactory = _ => "mixlora" };
        var tasks = new Option<string>("--tasks") { Description = "Task keys (arc-e, arc-c, boolq, obqa, piqa, siqa, hellaswag, winogrande) and/or .json/.jsonl data files, joined by ';'.", Required = true };
        var multiTask = new Option<bool>("--multi-task") { Description = "Train one adapter on all tasks together instead of one adapter per task." };
        var append = new Option<bool>("--append") { Description = "Add the new adapters to the existing --output file (names continue its numbering)." };
        var output = new Option<string>("--output", "-o") { Description = "Config file to write; - writes it to standard output (data paths then stay relative to the current folder).", DefaultValueFactory = _ => "moe_peft.json" };
        var adapterName = new Option<string?>("--adapter-name") { Description = "Name adapters \"{NAME}_{i}\" instead of after their task." };
        var dataPath = new Option<string?>("--data-path") { Description = "Data file or folder per task, joined by ';' (task keys need the LLM-Adapters train.json)." };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt template: alpaca, moe_peft or a template JSON file." };
        var cutoffLen = new Option<int?>("--cutoff-len") { Description = "Maximum tokens per training sequence (-1 = the model's context length)." };
        var saveStep = new Option<int?>("--save-step") { Description = "Save a checkpoint every N micro-steps." };
        var scheduler = new Option<string?>("--scheduler") { Description = $"Learning-rate schedule: {string.Join(", ", AdapterTrainingConfig.SchedulerTypes)}." };
        var warmupSteps = new Option<double?>("--warmup-steps") { Description = "Warmup optimizer steps (wins over warmup_ratio when > 0)." };
        var lr = new Option<double?>("--lr") { Description = "Learning rate." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Examples per optimizer step." };
        var microBatchSize = new Option<int?>("--micro-batch-size") { Description = "Examples per forward pass (must divide --batch-size)." };
        var evaluateSteps = new Option<int?>("--evaluate-steps") { Description = "Evaluate every N micro-steps during training." };
        var evaluateBatchSize = new Option<int?>("--evaluate-batch-size") { Description = "Evaluation batch size." };
        var numEpochs = new Option<double?>("--num-epochs") { Description = "Passes over the training data (a fraction such as 1.5 ends part-way through the last pass)." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many optimizer steps, whatever --num-epochs says (max_steps)." };
        var loraPlus = new Option<double?>("--loraplus-lr-ratio") { Description = "LoRA+ learning-rate ratio lora_B / lora_A (>= 1)." };
        var rank = new Option<int?>("--r") { Description = "LoRA rank r (MixLoRA: of the experts and attention LoRAs)." };
        var alpha = new Option<int?>("--alpha") { Description = "lora_alpha (the scaling is alpha / r, or alpha / sqrt(r) with --use-rslora)." };
        var routing = new Option<string?>("--routing") { Description = "MixLoRA routing_strategy: mixlora (top-k), mixlora-switch or mixlora-dynamic (top-p)." };
        var numExperts = new Option<int?>("--num-experts") { Description = "MixLoRA experts per layer." };
        var topK = new Option<int?>("--top-k") { Description = "MixLoRA experts per token (top-k routing)." };
        var useDora = new Option<bool>("--use-dora") { Description = "Use DoRA (weight-decomposed LoRA)." };
        var useRsLora = new Option<bool>("--use-rslora") { Description = "Use rank-stabilised LoRA scaling (alpha / sqrt(r))." };
        var groupByLength = new Option<bool>("--group-by-length") { Description = "Visit examples longest first instead of in a seeded shuffle." };
        var responseOnly = new Option<bool>("--no-train-on-inputs") { Description = "Count only the response tokens in the loss (train_on_inputs false)." };
        var addEos = new Option<bool>("--add-eos") { Description = "Append the tokenizer's EOS token to every training text." };

        var command = new Command("init", "Write a training config (MoE-PEFT format) from a template, like the reference's `launch.py gen`.")
        {
            template, tasks, multiTask, append, output, adapterName, dataPath, prompt, cutoffLen, saveStep, scheduler, warmupSteps, lr,
            batchSize, microBatchSize, evaluateSteps, evaluateBatchSize, numEpochs, maxSteps, loraPlus, rank, alpha, routing, numExperts, topK,
            useDora, useRsLora, groupByLength,
            responseOnly, addEos,
        };
        command.SetAction(parse =>
        {
            static bool? FlagOrNull(bool set) => set ? true : null;
            var path = parse.GetValue(output)!;
            bool toStdout = OutputPath.IsStandardOutput(path);
            if (toStdout && parse.GetValue(append)) throw new OutputLocationException("--append needs a config file to add to, not --output -");
            if (!toStdout) OutputPath.CheckFile(path, "--output");
            var options = new TrainingConfigGenerateOptions
            {
                Template = parse.GetValue(template)!,
                // Paths on the command line are relative to where the user stands; the config stores them relative
                // to its own folder, which is what `train` resolves them against.
                BaseDir = Directory.GetCurrentDirectory(),
                ConfigDir = toStdout ? null : Path.GetDirectoryName(Path.GetFullPath(path)),
                Tasks = parse.GetValue(tasks)!,
                MultiTask = parse.GetValue(multiTask),
                AdapterName = parse.GetValue(adapterName),
                DataPath = parse.GetValue(dataPath),
                Prompt = parse.GetValue(prompt),
                CutoffLen = parse.GetValue(cutoffLen),
                SaveStep = parse.GetValue(saveStep),
                SchedulerType = parse.GetValue(scheduler),
                WarmupSteps = parse.GetValue(warmupSteps),
                Lr = parse.GetValue(lr),
                BatchSize = parse.GetValue(batchSize),
                MicroBatchSize = parse.GetValue(microBatchSize),
                EvaluateSteps = parse.GetValue(evaluateSteps),
                EvaluateBatchSize = parse.GetValue(evaluateBatchSize),
                NumEpochs = parse.GetValue(numEpochs),
                MaxSteps = parse.GetValue(maxSteps),
                LoraPlusLrRatio = parse.GetValue(loraPlus),
                R = parse.GetValue(rank),
                LoraAlpha = parse.GetValue(alpha),
                RoutingStrategy = parse.GetValue(routing),
                NumExperts = parse.GetValue(numExperts),
                TopK = parse.GetValue(topK),
                UseDora = FlagOrNull(parse.GetValue(useDora)),
                UseRsLora = FlagOrNull(parse.GetValue(useRsLora)),
                GroupByLength = FlagOrNull(parse.GetValue(groupByLength)),
                TrainOnInputs = parse.GetValue(responseOnly) ? false : null,
                AddEos = FlagOrNull(parse.GetValue(addEos)),
            };
            var existing = parse.GetValue(append) ? TrainingConfig.Load(path) : null;
            var config = TrainingConfigTemplates.Generate(options, existing);
            // With --output - the config is the only thing on standard output; the summary goes to standard error.
            if (toStdout) console.Out.Write(config.ToJson() + "\n");
            else AtomicFile.WriteAllText(path, config.ToJson() + "\n");

            int added = config.Lora.Count - (existing?.Lora.Count ?? 0);
            var summary = toStdout ? console.Err : console.Out;
            summary.WriteLine($"wrote {(toStdout ? "the config to standard output" : path)}: {config.Lora.Count} adapter(s) ({added} new), cutoff_len {config.CutoffLen}, save_step {config.SaveStep}");
            foreach (var adapter in config.Lora.Skip(config.Lora.Count - added)) summary.WriteLine("  " + Describe(adapter));
            return 0;
        });
        return command;
    }

    private static string Describe(AdapterTrainingConfig a)
    {
        var peft = a.Adapter;
        var kind = peft.IsMixLora
            ? $"MixLoRA {peft.RoutingStrategy}, {peft.NumExperts} experts"
            : peft.UseDora ? "DoRA" : "LoRA";
        var task = a.IsCasual ? $"casual on {a.Data}" : $"task {a.TaskName}" + (a.Data is null ? "" : $" on {a.Data}");
        var lr = a.Lr.ToString("G", CultureInfo.InvariantCulture);
        return $"{a.Name}: {task}; {kind}, r {peft.R}, alpha {peft.LoraAlpha}; lr {lr} {a.SchedulerType}, " +
               $"batch {a.BatchSize} (micro {a.EffectiveMicroBatchSize}), " +
               (a.MaxSteps is int steps ? $"{steps} optimizer steps" : $"{a.NumEpochs.ToString(CultureInfo.InvariantCulture)} epoch(s)");
    }
}
