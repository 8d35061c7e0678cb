namespace MixLora.Evaluation;

public static partial class EvaluationTasks
{
    /// <summary>
    /// Reads a user's own task from a .json (array or JSON lines), .jsonl or .parquet file of records. Every record has a
    /// prompt: <c>instruction</c> (and optional <c>input</c>) rendered with <see cref="EvaluationDataOptions.Template"/>
    /// exactly as training renders a data file, or <c>prompt</c>, used as is. Then, per metric:
    /// <list type="bullet">
    /// <item>exact: <c>output</c> is the gold answer (what training on the record teaches the model to write),
    /// compared as <see cref="ExactAnswer"/> says.</item>
    /// <item>choice: <c>options</c> (or <c>choices</c>) lists at least two distinct texts, each appended verbatim to the
    /// prompt as training appends an output; the right one is <c>answer</c> (a 0-based index, or an option's text)
    /// or, without <c>answer</c>, <c>output</c> (an option's text). Texts match ignoring surrounding whitespace.</item>
    /// </list>
    /// Other fields are ignored. A malformed record fails the load when <see cref="EvaluationDataOptions.Strict"/>,
    /// else it is listed in <see cref="EvaluationTaskData.Skipped"/>.
    /// </summary>
    /// <param name="metric">How items are scored; null: choice when the first record has options (or choices), else exact.</param>
    /// <param name="taskName">The task's name in results; null: the file name without its extension.</param>
    /// <exception cref="InvalidFileException">Missing, unreadable or empty file, no valid record, or (strict) a malformed record.</exception>
    public static EvaluationTaskData LoadCustom(string file, CustomTaskMetric? metric = null, EvaluationDataOptions? options = null, string? taskName = null)
    {
        options ??= EvaluationDataOptions.Default;
        var name = (taskName ?? Path.GetFileNameWithoutExtension(file)).Trim();
        if (name.Length == 0) throw new MixLoraException($"task name of \"{file}\" is empty");

        using var records = TaskFileRecords.Read(file);
        var chosen = metric ?? DetectMetric(records);
        var skipped = new List<SkippedRecord>();
        var examples = ReadRecords(records, options.Strict, skipped, (r, index) => CustomTaskRecords.Read(r, index, chosen, options.Template));
        return new EvaluationTaskData(name, file, TaskRecordShape.Custom, [], [], examples, skipped) { Metric = chosen };
    }

    private static CustomTaskMetric DetectMetric(TaskFileRecords records)
    {
        var first = new RecordFields(FirstObject(records));
        return CustomTaskRecords.OptionFields.Any(first.Has) ? CustomTaskMetric.Choice : CustomTaskMetric.Exact;
    }
}
