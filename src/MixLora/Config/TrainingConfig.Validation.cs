using MixLora.Data;

namespace MixLora.Config;

public sealed partial record TrainingConfig
{
    /// <summary>
    /// Checks every key of the file and of each adapter (including its PEFT/MixLoRA keys). Errors are
    /// <see cref="InvalidFileException"/>s naming <paramref name="file"/>, the adapter and the key, e.g.
    /// <c>config.json: lora[0] ("mixlora_0"): micro_batch_size 3 must divide batch_size 16</c>.
    /// Data files are not opened here; see <see cref="ValidateData"/>.
    /// </summary>
    public void Validate(string file)
    {
        void Fail(string problem) => throw new InvalidFileException(file, problem);

        if (CutoffLen != -1 && CutoffLen <= 0)
            Fail($"key \"cutoff_len\" must be an integer > 0, or -1 for the model's context length; got {CutoffLen}");
        if (SaveStep <= 0) Fail($"key \"save_step\" must be an integer > 0 (micro-steps between checkpoints), got {SaveStep}");
        if (!TrainStrategies.Contains(TrainStrategy))
            Fail($"unknown train_strategy \"{TrainStrategy}\" (valid: {string.Join(", ", TrainStrategies)})");
        if (TrainLoraSimultaneouslyNum is <= 0)
            Fail($"key \"train_lora_simultaneously_num\" must be an integer > 0, got {TrainLoraSimultaneouslyNum}");
        if (Lora.Count == 0) Fail("key \"lora\" lists no adapter; add at least one");

        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Lora.Count; i++)
        {
            var adapter = Lora[i];
            ValidateAdapter(adapter, i, file);
            if (names.TryGetValue(adapter.Name, out var first))
                Fail($"{AdapterLocation(i, adapter.Name)}: name \"{adapter.Name}\" is already used by lora[{first}]; adapter names must be unique (they name the output folders)");
            names[adapter.Name] = i;
        }
    }

    private static void ValidateAdapter(AdapterTrainingConfig a, int index, string file)
    {
        var location = AdapterLocation(index, a.Name);
        void Fail(string problem) => throw new InvalidFileException(file, $"{location}: {problem}");

        if (string.IsNullOrWhiteSpace(a.Name)) Fail("key \"name\" must be a non-empty adapter name");
        if (a.Name is "." or ".." || a.Name.IndexOfAny(['/', '\\']) >= 0 || a.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            Fail($"name \"{a.Name}\" cannot be used as a folder name");
        ValidateTaskName(a, Fail);
        if (!AdapterTrainingConfig.Optimizers.Contains(a.Optim))
            Fail($"unknown optim \"{a.Optim}\" (valid: {string.Join(", ", AdapterTrainingConfig.Optimizers)})");
        if (!(a.Lr > 0) || double.IsInfinity(a.Lr)) Fail($"key \"lr\" must be a number > 0, got {a.Lr}");
        if (!(a.Momentum >= 0)) Fail($"key \"momentum\" must be >= 0, got {a.Momentum}");
        if (!(a.WeightDecay >= 0)) Fail($"key \"weight_decay\" must be >= 0, got {a.WeightDecay}");
        if (!(a.LoraPlusLrRatio >= 1)) Fail($"key \"loraplus_lr_ratio\" must be >= 1.0 (1.0 = plain LoRA), got {a.LoraPlusLrRatio}");
        if (a.SchedulerType == "reduce_lr_on_plateau")
            Fail("scheduler_type \"reduce_lr_on_plateau\" is not supported (it needs a validation metric every step); " +
                 $"use one of: {string.Join(", ", AdapterTrainingConfig.SchedulerTypes)}");
        if (!AdapterTrainingConfig.SchedulerTypes.Contains(a.SchedulerType))
            Fail($"unknown scheduler_type \"{a.SchedulerType}\" (valid: {string.Join(", ", AdapterTrainingConfig.SchedulerTypes)})");
        if (!(a.WarmupRatio >= 0 && a.WarmupRatio <= 1)) Fail($"key \"warmup_ratio\" must be in [0, 1], got {a.WarmupRatio}");
        if (a.WarmupSteps is { } w && !(w >= 0 && !double.IsInfinity(w))) Fail($"key \"warmup_steps\" must be >= 0, got {w}");
        if (a.BatchSize <= 0) Fail($"key \"batch_size\" must be an integer > 0, got {a.BatchSize}");
        if (a.MicroBatchSize is { } micro)
        {
            if (micro <= 0) Fail($"key \"micro_batch_size\" must be an integer > 0, got {micro}");
            if (micro > a.BatchSize || a.BatchSize % micro != 0)
                Fail($"micro_batch_size {micro} must divide batch_size {a.BatchSize}");
        }
        if (a.MaxSteps is null && (!(a.NumEpochs > 0) || double.IsInfinity(a.NumEpochs))) Fail($"key \"num_epochs\" must be a number > 0, got {a.NumEpochs}");
        if (a.MaxSteps is <= 0) Fail($"key \"max_steps\" must be an integer > 0 (or absent), got {a.MaxSteps}");
        if (a.EvaluateBatchSize is <= 0) Fail($"key \"evaluate_batch_size\" must be an integer > 0, got {a.EvaluateBatchSize}");
        if (a.EvaluateSteps is <= 0) Fail($"key \"evaluate_steps\" must be an integer > 0, got {a.EvaluateSteps}");
        if (a.TaskKeys.Count > 0 && a.EvaluateBatchSize is null)
            Fail($"missing key \"evaluate_batch_size\" (required for task \"{a.TaskName}\", as in the reference)");
        if (a.Prompt is "") Fail("key \"prompt\" must be a template name (alpaca, moe_peft) or a template JSON path, not \"\"");
        if (a.Data is "") Fail("key \"data\" must be a file path, not \"\"");

        try
        {
            a.Adapter.Validate(file);
        }
        catch (InvalidFileException e) when (e.FilePath == file)
        {
            throw new InvalidFileException(file, $"{location}: {e.Message[(file.Length + 2)..]}", e);
        }
    }

    private static void ValidateTaskName(AdapterTrainingConfig a, Action<string> fail)
    {
        if (a.IsCasual) return;
        var keys = a.TaskKeys;
        if (keys.Count == 0) fail($"task_name \"{a.TaskName}\" names no task");
        foreach (var key in keys)
        {
            if (key is AdapterTrainingConfig.CasualTask or "causal")
                fail($"task_name \"{a.TaskName}\": \"{key}\" cannot be combined with other tasks (multi-task joins task keys such as arc-c;boolq)");
            if (CommonsenseTasks.Find(key) is null)
                fail(CommonsenseTasks.UnsupportedTaskMessage(key, a.TaskName));
        }
        if (keys.Distinct().Count() != keys.Count) fail($"task_name \"{a.TaskName}\" lists a task twice");
        if (a.Data is not null && a.DataPaths.Count != keys.Count)
            fail($"key \"data\" has {a.DataPaths.Count} path(s) for {keys.Count} task(s) in task_name \"{a.TaskName}\"; give one path per task, joined by ';'");
    }

    /// <summary>
    /// Checks that every adapter's data file(s) and prompt template file exist; relative paths are resolved against
    /// <paramref name="baseDir"/>. Run before training so a missing file fails before the first step. (Malformed
    /// or empty data is reported when the data is loaded by <see cref="TrainingData.Load"/>, also before training.)
    /// </summary>
    public void ValidateData(string baseDir, string? file = null)
    {
        file ??= "training config";
        for (int i = 0; i < Lora.Count; i++)
        {
            var adapter = Lora[i];
            try
            {
                TrainingData.ResolveSources(adapter, baseDir);
                PromptTemplate.Resolve(adapter.Prompt, baseDir);
            }
            catch (MixLoraException e)
            {
                throw new InvalidFileException(file, $"{AdapterLocation(i, adapter.Name)}: {e.Message}", e);
            }
        }
    }
}
