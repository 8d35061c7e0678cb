namespace MixLora.Evaluation;

/// <summary>All task results of an evaluation run, with the per-target average over tasks.</summary>
/// <param name="Warnings">Things the reader should know about the numbers (e.g. multi-token candidates under the choice protocol).</param>
public sealed record EvaluationReport(IReadOnlyList<TaskResult> Results, IReadOnlyList<SkippedRecord> Skipped, IReadOnlyList<string> Warnings)
{
    /// <summary>Target names in the order they were evaluated.</summary>
    public IReadOnlyList<string> Targets => Results.Select(r => r.AdapterName).Distinct().ToList();

    /// <summary>Task keys in the order they were evaluated.</summary>
    public IReadOnlyList<string> Tasks => Results.Select(r => r.TaskName).Distinct().ToList();

    /// <summary>Unweighted mean of a target's task accuracies (the papers' "AVG" column).</summary>
    public double AverageAccuracy(string target) =>
        Results.Where(r => r.AdapterName == target).Select(r => r.Accuracy).DefaultIfEmpty(0).Average();

    public TaskResult? Find(string target, string task) =>
        Results.FirstOrDefault(r => r.AdapterName == target && r.TaskName == task);
}
