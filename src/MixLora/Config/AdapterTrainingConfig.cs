using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// One element of the <c>lora</c> list of a MoE-PEFT training config (spec §4.2): the training keys of one adapter,
/// plus its PEFT/MixLoRA keys in <see cref="Adapter"/> (they share one JSON object). Defaults are the reference's.
/// </summary>
public sealed record AdapterTrainingConfig
{
    /// <summary>Task key of instruction tuning on a JSON/JSONL file (spec spells it "casual").</summary>
    public const string CasualTask = "casual";

    /// <summary><c>optim</c> values.</summary>
    public static readonly IReadOnlyList<string> Optimizers = ["adamw", "sgd"];

    /// <summary><c>scheduler_type</c> values this library runs (Hugging Face <c>get_scheduler</c> names).</summary>
    public static readonly IReadOnlyList<string> SchedulerTypes =
        ["constant", "linear", "cosine", "cosine_with_restarts", "polynomial", "constant_with_warmup", "inverse_sqrt"];

    /// <summary>Adapter name; also the name of its output folder (required).</summary>
    [JsonPropertyName("name")] public string Name { get; init; } = "";

    /// <summary>"casual" (also "" and "causal"), a task key (spec §8.1) or several task keys joined by ';'.</summary>
    [JsonPropertyName("task_name")] public string TaskName { get; init; } = CasualTask;

    /// <summary>Data file for casual; for task keys the LLM-Adapters file or folder (';'-separated for multi-task).</summary>
    [JsonPropertyName("data")] public string? Data { get; init; }

    /// <summary>Prompt template: "alpaca", "moe_peft" or a template JSON path; null = moe_peft (alpaca for task keys).</summary>
    [JsonPropertyName("prompt")] public string? Prompt { get; init; }

    [JsonPropertyName("optim")] public string Optim { get; init; } = "adamw";

    /// <summary>Learning rate (required, &gt; 0).</summary>
    [JsonPropertyName("lr")] public double Lr { get; init; }

    /// <summary>SGD momentum.</summary>
    [JsonPropertyName("momentum")] public double Momentum { get; init; }

    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.01;

    /// <summary>LoRA+ ratio lr(lora_B) / lr(lora_A), ≥ 1; 1 = one parameter group (spec §3.7).</summary>
    [JsonPropertyName("loraplus_lr_ratio")] public double LoraPlusLrRatio { get; init; } = 1.0;

    [JsonPropertyName("scheduler_type")] public string SchedulerType { get; init; } = "constant";

    /// <summary>Warmup as a fraction of the total optimizer steps (used when <see cref="WarmupSteps"/> is not &gt; 0).</summary>
    [JsonPropertyName("warmup_ratio")] public double WarmupRatio { get; init; }

    /// <summary>
    /// Warmup in optimizer steps. The reference writes but never reads this key; this library honours it: when
    /// set and &gt; 0 it wins over <see cref="WarmupRatio"/> (see <see cref="WarmupStepsFor"/>).
    /// </summary>
    [JsonPropertyName("warmup_steps")] public double? WarmupSteps { get; init; }

    /// <summary>Examples per optimizer step (required).</summary>
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }

    /// <summary>Examples per forward pass; null = <see cref="BatchSize"/>. Must divide it.</summary>
    [JsonPropertyName("micro_batch_size")] public int? MicroBatchSize { get; init; }

    /// <summary>Passes over the data (required, &gt; 0); a fraction ends part-way through the last pass (1.5 = one and a half).</summary>
    [JsonPropertyName("num_epochs")] public double NumEpochs { get; init; }

    /// <summary>Ours: stop after this many optimizer steps, whatever <see cref="NumEpochs"/> says (the data repeats as needed).</summary>
    [JsonPropertyName("max_steps")] public int? MaxSteps { get; init; }

    /// <summary>true: order the data by token length, longest first; false: a seeded shuffle (spec §6.2).</summary>
    [JsonPropertyName("group_by_length")] public bool GroupByLength { get; init; }

    /// <summary>
    /// Ours: draw a new seeded shuffle for every epoch (the first epoch's order is the same either way). false is the
    /// reference's behaviour (a QUIRK: one shuffle, every epoch in the same order). Ignored with <see cref="GroupByLength"/>.
    /// </summary>
    [JsonPropertyName("shuffle_each_epoch")] public bool ShuffleEachEpoch { get; init; } = true;

    /// <summary>Evaluation batch size; the reference requires it when <see cref="TaskName"/> holds a task key.</summary>
    [JsonPropertyName("evaluate_batch_size")] public int? EvaluateBatchSize { get; init; }

    /// <summary>Evaluate every N micro-steps during training; null = only at the end.</summary>
    [JsonPropertyName("evaluate_steps")] public int? EvaluateSteps { get; init; }

    /// <summary>Ours: false = only the response tokens count in the loss (the reference always trains on inputs).</summary>
    [JsonPropertyName("train_on_inputs")] public bool TrainOnInputs { get; init; } = true;

    /// <summary>Ours: append the tokenizer's EOS to every training text (the reference never does).</summary>
    [JsonPropertyName("add_eos")] public bool AddEos { get; init; }

    /// <summary>The PEFT/MixLoRA keys of the same JSON object (r, lora_alpha, target_modules, routing_strategy, …).</summary>
    [JsonIgnore] public AdapterConfig Adapter { get; init; } = new();

    // ---- Derived values ----

    /// <summary>Whether this adapter is instruction-tuned on a data file ("", "casual" or "causal").</summary>
    [JsonIgnore] public bool IsCasual => TaskName is "" or CasualTask or "causal";

    /// <summary>The task keys of <see cref="TaskName"/> (empty for casual).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> TaskKeys =>
        IsCasual ? [] : TaskName.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The paths of <see cref="Data"/>: one for casual, ';'-separated for tasks (aligned with <see cref="TaskKeys"/>).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> DataPaths =>
        Data is null ? []
        : IsCasual ? [Data]
        : Data.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    [JsonIgnore] public int EffectiveMicroBatchSize => MicroBatchSize ?? BatchSize;

    /// <summary>Micro-batches per optimizer step (batch_size / micro_batch_size).</summary>
    [JsonIgnore] public int AccumulationSteps => BatchSize / Math.Max(1, EffectiveMicroBatchSize);

    /// <summary>
    /// Optimizer steps of the whole run, which the learning-rate schedule spans: <c>max_steps</c> when set, else
    /// ceil(examples / batch_size) × num_epochs (spec §6.5), rounded up for a fractional num_epochs.
    /// </summary>
    public int TotalOptimizerSteps(int exampleCount) =>
        MaxSteps ?? CeilingOf((exampleCount + BatchSize - 1) / Math.Max(1, BatchSize) * NumEpochs);

    /// <summary>
    /// Micro-batches of the whole run: max_steps × (batch_size / micro_batch_size) when max_steps is set, else
    /// ceil(examples / micro_batch_size) per epoch × num_epochs, rounded up (a micro-batch never spans two epochs).
    /// </summary>
    public int TotalMicroSteps(int exampleCount) =>
        MaxSteps is int steps ? steps * AccumulationSteps
        : CeilingOf((exampleCount + EffectiveMicroBatchSize - 1) / Math.Max(1, EffectiveMicroBatchSize) * NumEpochs);

    // 2.9999999999999996 (0.1 × 30 in binary) is 3 steps, not 4.
    private static int CeilingOf(double steps) => (int)Math.Ceiling(steps - 1e-9);

    /// <summary>Warmup steps for the scheduler: <see cref="WarmupSteps"/> when &gt; 0, else warmup_ratio × total steps.</summary>
    public double WarmupStepsFor(int totalOptimizerSteps) =>
        WarmupSteps is double steps && steps > 0 ? steps : WarmupRatio * totalOptimizerSteps;
}
