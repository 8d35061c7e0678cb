namespace MixLora.Evaluation;

/// <summary>
/// The score of one target on one task (one entry of the reference's result list, spec §8.4, plus our fields).
/// </summary>
/// <param name="AdapterName">The target's name (the base model's folder name for the base model).</param>
/// <param name="TaskName">Task key, e.g. "arc-e".</param>
/// <param name="DataPath">The file the examples came from.</param>
/// <param name="DateTime">Local time the task finished, "yyyy-MM-dd HH:mm:ss" as the reference.</param>
/// <param name="Correct">Examples answered correctly.</param>
/// <param name="Total">Examples scored.</param>
/// <param name="Unanswered">Generate protocol: outputs without any candidate word (counted wrong).</param>
/// <param name="Skipped">Malformed records left out.</param>
/// <param name="ExamplesPerSecond">Examples of this task per second of wall time (all targets of a batch share it).</param>
/// <param name="RouterLoad">MixLoRA only: [layer][expert] mean number of (token, slot) selections per token (sums to top-k for top-k routing).</param>
/// <param name="TrainingSteps">When evaluated during training: the adapter's micro-step.</param>
public sealed record TaskResult(
    string AdapterName,
    string TaskName,
    string DataPath,
    string Protocol,
    string DateTime,
    int Correct,
    int Total,
    int Unanswered,
    int Skipped,
    double ExamplesPerSecond,
    double[][]? RouterLoad,
    long? TrainingSteps = null)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;

    /// <summary>
    /// MixLoRA only: per expert, the layer mean of <see cref="RouterLoad"/> (the reference's router_profile without
    /// its quirks: divided by the real layer count, not 32, and a true mean, spec §11.3).
    /// </summary>
    public double[]? RouterProfile => RouterLoad is null || RouterLoad.Length == 0
        ? null
        : Enumerable.Range(0, RouterLoad[0].Length).Select(e => RouterLoad.Average(layer => layer[e])).ToArray();
}
