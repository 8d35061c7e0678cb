using MixLora.Data;

namespace MixLora.Config;

/// <summary>
/// The reference's config templates (spec §4.3: LLaMA target names, and the <c>_phi</c> / <c>_phi3</c> variants with
/// those families' names) and its <c>launch.py gen</c> (spec §4.4):
/// one adapter per template adapter × task, named and keyed as the reference does.
/// </summary>
/// <remarks>
/// Templates not shipped by the reference: <c>dora</c> = <c>lora</c> with use_dora; <c>mixlora_switch</c> = the
/// mixlora template with routing "mixlora-switch" and 8 experts; every switch key keeps the reference's default since
/// 0.3.2 (expert_capacity 32, jitter 0.01, router_init_range 1.0, z-loss 0.001; spec §4.2 and appendix C). A different capacity is
/// one key away: the README's guidance is (cutoff_len / num_experts) × a capacity factor of 1.0–2.0.
/// Dataset tasks are named "casual_{i}" with task_name "casual" (spec §4.2; the newest launch.py spells it
/// "causal", which this library also accepts).
/// </remarks>
public static class TrainingConfigTemplates
{
    /// <summary>Template names accepted by <see cref="Template"/>.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "mixlora", "mixlora_dynamic", "mixlora_switch", "lora", "dora",
        "mixlora_phi", "mixlora_phi3", "mixlora_dynamic_phi", "mixlora_dynamic_phi3", "lora_phi", "lora_phi3",
    ];

    private static readonly IReadOnlyList<string> LlamaTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"];
    private static readonly IReadOnlyList<string> PhiTargets = ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"];
    private static readonly IReadOnlyList<string> Phi3Targets = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"];

    /// <summary>The template config, as the reference's <c>templates/{name}.json</c> would load.</summary>
    /// <exception cref="MixLoraException">Unknown template name.</exception>
    public static TrainingConfig Template(string name)
    {
        var peft = name switch
        {
            "mixlora" => MixLora(AdapterConfig.TopKRouting, LlamaTargets) with { TopK = 2 },
            "mixlora_phi" => MixLora(AdapterConfig.TopKRouting, PhiTargets) with { TopK = 2 },
            "mixlora_phi3" => MixLora(AdapterConfig.TopKRouting, Phi3Targets) with { TopK = 2 },
            "mixlora_dynamic" => MixLora(AdapterConfig.DynamicRouting, LlamaTargets) with { TopP = 0.8 },
            "mixlora_dynamic_phi" => MixLora(AdapterConfig.DynamicRouting, PhiTargets) with { TopP = 0.8 },
            "mixlora_dynamic_phi3" => MixLora(AdapterConfig.DynamicRouting, Phi3Targets) with { TopP = 0.8 },
            "mixlora_switch" => MixLora(AdapterConfig.SwitchRouting, LlamaTargets) with { ExpertCapacity = 32 },
            "lora" => Lora(80, LlamaTargets, useDora: false),
            "lora_phi" => Lora(80, PhiTargets, useDora: false),
            "lora_phi3" => Lora(84, Phi3Targets, useDora: false),
            "dora" => Lora(80, LlamaTargets, useDora: true),
            _ => throw new MixLoraException($"unknown template \"{name}\" (valid: {string.Join(", ", Names)})"),
        };
        var adapter = new AdapterTrainingConfig
        {
            Name = name.StartsWith("mixlora", StringComparison.Ordinal) ? "mixlora" : name.StartsWith("lora", StringComparison.Ordinal) ? "lora" : name,
            TaskName = "",
            Optim = "adamw",
            SchedulerType = "constant",
            WarmupSteps = 0,
            Lr = 2e-4,
            BatchSize = 16,
            MicroBatchSize = 8,
            EvaluateBatchSize = 16,
            NumEpochs = 2,
            GroupByLength = false,
            Adapter = peft,
        };
        return new TrainingConfig
        {
            CutoffLen = 512,
            SaveStep = 1000,
            TrainLoraCandidateNum = 2,
            TrainLoraSimultaneouslyNum = 2,
            TrainStrategy = "optim",
            Lora = [adapter],
        };
    }

    private static AdapterConfig MixLora(string routing, IReadOnlyList<string> targets) => new()
    {
        R = 16, LoraAlpha = 32, LoraDropout = 0.05, TargetModules = targets, RoutingStrategy = routing, NumExperts = 8,
    };

    private static AdapterConfig Lora(int rank, IReadOnlyList<string> targets, bool useDora) => new()
    {
        R = rank, LoraAlpha = 2 * rank, LoraDropout = 0.05, TargetModules = targets, UseDora = useDora,
    };

    /// <summary>
    /// <c>launch.py gen</c>: the template with overrides, one adapter per task (or one multi-task adapter), appended
    /// after the adapters of <paramref name="appendTo"/> when given (indices continue). The result is validated.
    /// Task names that are not task keys must be existing .json/.jsonl files: they become casual adapters with
    /// prompt "alpaca".
    /// </summary>
    /// <exception cref="MixLoraException">Unknown template or task, data path count mismatch, or an invalid result.</exception>
    public static TrainingConfig Generate(TrainingConfigGenerateOptions o, TrainingConfig? appendTo = null)
    {
        var template = Template(o.Template);
        var tasks = o.MultiTask ? [o.Tasks] : o.Tasks.Split(';', StringSplitOptions.TrimEntries);
        if (tasks.Any(string.IsNullOrWhiteSpace))
            throw new MixLoraException($"--tasks \"{o.Tasks}\": expected task keys or data files joined by ';' (task keys: {string.Join(", ", CommonsenseTasks.Keys)})");
        var paths = o.DataPath is null ? null : o.MultiTask ? [o.DataPath] : o.DataPath.Split(';', StringSplitOptions.TrimEntries);
        if (paths is not null && paths.Length != tasks.Length)
            throw new MixLoraException($"--data-path \"{o.DataPath}\" gives {paths.Length} path(s) for {tasks.Length} task(s); give one per task, joined by ';'");

        var adapters = new List<AdapterTrainingConfig>(appendTo?.Lora ?? []);
        foreach (var adapterTemplate in template.Lora)
        {
            for (int t = 0; t < tasks.Length; t++)
            {
                int index = adapters.Count;
                var adapter = ForTask(adapterTemplate, tasks[t], index, o);
                if (o.AdapterName is not null) adapter = adapter with { Name = $"{o.AdapterName}_{index}" };
                if (paths is not null) adapter = adapter with { Data = paths[t] };
                adapters.Add(RebaseFiles(ApplyOverrides(adapter, o), o));
            }
        }
        var config = template with
        {
            CutoffLen = o.CutoffLen ?? template.CutoffLen,
            SaveStep = o.SaveStep ?? template.SaveStep,
            Lora = adapters,
        };
        config.Validate("generated config");
        return config;
    }

    private static AdapterTrainingConfig ForTask(AdapterTrainingConfig template, string task, int index, TrainingConfigGenerateOptions o)
    {
        if (o.MultiTask) return template with { Name = $"multi_task_{index}", TaskName = task };
        if (CommonsenseTasks.Find(task) is { } known) return template with { Name = $"{known.AdapterNameStem}_{index}", TaskName = task };
        if (CommonsenseTasks.IsReferenceKey(task))
            throw new MixLoraException(CommonsenseTasks.UnsupportedTaskMessage(task, o.Tasks));
        var path = Path.Combine(o.BaseDir ?? ".", task);
        if (!File.Exists(path) || !InstructionDataset.IsSupportedPath(task))
            throw new MixLoraException($"task \"{task}\" is neither a task key ({string.Join(", ", CommonsenseTasks.Keys)}) nor an existing .json/.jsonl data file");
        return template with { Name = $"{AdapterTrainingConfig.CasualTask}_{index}", TaskName = AdapterTrainingConfig.CasualTask, Data = task, Prompt = PromptTemplate.AlpacaName };
    }

    /// <summary>
    /// Data paths (';'-joined for multi-task) and a prompt template file, given relative to <see cref="TrainingConfigGenerateOptions.BaseDir"/>,
    /// made relative to <see cref="TrainingConfigGenerateOptions.ConfigDir"/>: the one rule training reads them by.
    /// </summary>
    private static AdapterTrainingConfig RebaseFiles(AdapterTrainingConfig a, TrainingConfigGenerateOptions o)
    {
        if (o.ConfigDir is null) return a;
        string from = Path.GetFullPath(o.BaseDir ?? ".");
        string to = Path.GetFullPath(o.ConfigDir);
        string Rebase(string path) => Path.IsPathRooted(path) ? path : Path.GetRelativePath(to, Path.Combine(from, path));
        var data = a.Data is null ? null : string.Join(";", a.Data.Split(';').Select(p => p.Trim()).Select(Rebase));
        bool promptIsFile = a.Prompt is { } prompt && File.Exists(Path.Combine(from, prompt));
        return a with { Data = data, Prompt = promptIsFile ? Rebase(a.Prompt!) : a.Prompt };
    }

    private static AdapterTrainingConfig ApplyOverrides(AdapterTrainingConfig a, TrainingConfigGenerateOptions o) => a with
    {
        Prompt = o.Prompt ?? a.Prompt,
        SchedulerType = o.SchedulerType ?? a.SchedulerType,
        WarmupSteps = o.WarmupSteps ?? a.WarmupSteps,
        Lr = o.Lr ?? a.Lr,
        BatchSize = o.BatchSize ?? a.BatchSize,
        MicroBatchSize = o.MicroBatchSize ?? a.MicroBatchSize,
        EvaluateSteps = o.EvaluateSteps ?? a.EvaluateSteps,
        EvaluateBatchSize = o.EvaluateBatchSize ?? a.EvaluateBatchSize,
        NumEpochs = o.NumEpochs ?? a.NumEpochs,
        MaxSteps = o.MaxSteps ?? a.MaxSteps,
        LoraPlusLrRatio = o.LoraPlusLrRatio ?? a.LoraPlusLrRatio,
        GroupByLength = o.GroupByLength ?? a.GroupByLength,
        TrainOnInputs = o.TrainOnInputs ?? a.TrainOnInputs,
        AddEos = o.AddEos ?? a.AddEos,
        Adapter = a.Adapter with
        {
            UseDora = o.UseDora ?? a.Adapter.UseDora,
            UseRsLora = o.UseRsLora ?? a.Adapter.UseRsLora,
            R = o.R ?? a.Adapter.R,
            LoraAlpha = o.LoraAlpha ?? a.Adapter.LoraAlpha,
            RoutingStrategy = o.RoutingStrategy ?? a.Adapter.RoutingStrategy,
            NumExperts = o.NumExperts ?? a.Adapter.NumExperts,
            TopK = o.TopK ?? a.Adapter.TopK,
        },
    };
}
