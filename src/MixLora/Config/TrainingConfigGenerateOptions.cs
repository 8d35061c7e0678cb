namespace MixLora.Config;

/// <summary>
/// Arguments of <see cref="TrainingConfigTemplates.Generate"/> (the reference's <c>launch.py gen</c>, spec §4.4).
/// Null overrides keep the template's value.
/// </summary>
public sealed record TrainingConfigGenerateOptions
{
    /// <summary>Template name (see <see cref="TrainingConfigTemplates.Names"/>).</summary>
    public required string Template { get; init; }

    /// <summary>Task keys and/or data file paths joined by ';' (e.g. "arc-c;boolq" or "data/alpaca.json").</summary>
    public required string Tasks { get; init; }

    /// <summary>One adapter trained on all <see cref="Tasks"/> together (named multi_task_{i}).</summary>
    public bool MultiTask { get; init; }

    /// <summary>Name stem: adapters are named "{AdapterName}_{i}" instead of the task-derived names.</summary>
    public string? AdapterName { get; init; }

    /// <summary>Data paths joined by ';', one per task (the whole string for a multi-task adapter).</summary>
    public string? DataPath { get; init; }

    /// <summary>Folder that relative dataset and template paths in these options are relative to (default: current folder).</summary>
    public string? BaseDir { get; init; }

    /// <summary>
    /// Folder the config will be written to. Training resolves relative paths against the config file's folder, so
    /// when set, relative data and template paths are rewritten relative to it (absolute paths stay as given).
    /// </summary>
    public string? ConfigDir { get; init; }

    public string? Prompt { get; init; }
    public int? CutoffLen { get; init; }
    public int? SaveStep { get; init; }
    public string? SchedulerType { get; init; }
    public double? WarmupSteps { get; init; }
    public double? Lr { get; init; }
    public int? BatchSize { get; init; }
    public int? MicroBatchSize { get; init; }
    public int? EvaluateSteps { get; init; }
    public int? EvaluateBatchSize { get; init; }
    public double? NumEpochs { get; init; }
    public int? MaxSteps { get; init; }
    public double? LoraPlusLrRatio { get; init; }
    public bool? UseDora { get; init; }
    public bool? UseRsLora { get; init; }
    /// <summary>LoRA rank r and lora_alpha of every generated adapter (MixLoRA: of its experts and attention LoRAs).</summary>
    public int? R { get; init; }
    public int? LoraAlpha { get; init; }
    /// <summary>MixLoRA only: routing_strategy, num_experts and top_k.</summary>
    public string? RoutingStrategy { get; init; }
    public int? NumExperts { get; init; }
    public int? TopK { get; init; }
    public bool? GroupByLength { get; init; }

    /// <summary>This library's train_on_inputs key.</summary>
    public bool? TrainOnInputs { get; init; }

    /// <summary>This library's add_eos key.</summary>
    public bool? AddEos { get; init; }
}
