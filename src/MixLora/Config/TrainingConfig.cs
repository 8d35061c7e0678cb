using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// A MoE-PEFT/mLoRA training config file (<c>moe_peft.json</c>, spec §4.1): run-wide keys and the list of adapters
/// to train together. The reference's own files (and <c>launch.py gen</c> output) load unchanged.
/// </summary>
public sealed partial record TrainingConfig
{
    /// <summary><c>train_strategy</c> values (spec §6.2).</summary>
    public static readonly IReadOnlyList<string> TrainStrategies = ["optim", "none"];

    /// <summary>Maximum tokens per training sequence (keep the head); -1 = the model's max_position_embeddings.</summary>
    [JsonPropertyName("cutoff_len")] public int CutoffLen { get; init; }

    /// <summary>Save a checkpoint every N micro-steps of an adapter (required).</summary>
    [JsonPropertyName("save_step")] public int SaveStep { get; init; }

    /// <summary>Accepted and ignored, as in the reference (the candidate limit is unlimited).</summary>
    [JsonPropertyName("train_lora_candidate_num")] public int? TrainLoraCandidateNum { get; init; }

    /// <summary>Maximum adapters fused into one training batch; null = all adapters.</summary>
    [JsonPropertyName("train_lora_simultaneously_num")] public int? TrainLoraSimultaneouslyNum { get; init; }

    /// <summary>"optim" (fuse adapters of similar next-example length) or "none" (the first N in order).</summary>
    [JsonPropertyName("train_strategy")] public string TrainStrategy { get; init; } = "optim";

    /// <summary>Evaluation/inference key (spec §4.1): accepted, kept, unused by training.</summary>
    [JsonPropertyName("inference_lora_simultaneously_num")] public int? InferenceLoraSimultaneouslyNum { get; init; }

    /// <summary>Evaluation key: accepted, kept, unused by training.</summary>
    [JsonPropertyName("eval_lora_simultaneously_num")] public int? EvalLoraSimultaneouslyNum { get; init; }

    /// <summary>Evaluation key: accepted, kept, unused by training.</summary>
    [JsonPropertyName("eval_rollback_retrying_steps")] public int? EvalRollbackRetryingSteps { get; init; }

    /// <summary>Evaluation key (output JSON path): accepted, kept, unused by training.</summary>
    [JsonPropertyName("evaluate_result")] public string? EvaluateResult { get; init; }

    /// <summary>The adapters to train (required, non-empty, unique names).</summary>
    [JsonPropertyName("lora")] public IReadOnlyList<AdapterTrainingConfig> Lora { get; init; } = [];

    /// <summary>Adapters fused per step: <see cref="TrainLoraSimultaneouslyNum"/> or the number of adapters.</summary>
    [JsonIgnore] public int EffectiveTrainLoraSimultaneouslyNum => TrainLoraSimultaneouslyNum ?? Lora.Count;

    /// <summary>The sequence cutoff in force: <see cref="CutoffLen"/> up to the model's context length, which is also what -1 means.</summary>
    public int ResolveCutoffLen(ModelConfig model) =>
        CutoffLen == -1 ? model.MaxPositionEmbeddings : Math.Min(CutoffLen, model.MaxPositionEmbeddings);

    /// <summary>A warning when cutoff_len exceeds the model's context and <see cref="ResolveCutoffLen"/> clamps it, else null.</summary>
    public string? CutoffLenWarning(ModelConfig model) => CutoffLen > model.MaxPositionEmbeddings
        ? $"cutoff_len {CutoffLen} is above the model's context (max_position_embeddings {model.MaxPositionEmbeddings}): sequences are cut at {model.MaxPositionEmbeddings} tokens"
        : null;

    /// <summary>The adapter with this name, or null.</summary>
    public AdapterTrainingConfig? FindAdapter(string name) => Lora.FirstOrDefault(a => a.Name == name);

    /// <summary>The location prefix of an adapter in error messages: <c>lora[0] ("mixlora_0")</c>.</summary>
    internal static string AdapterLocation(int index, string? name) =>
        string.IsNullOrEmpty(name) ? $"lora[{index}]" : $"lora[{index}] (\"{name}\")";
}
