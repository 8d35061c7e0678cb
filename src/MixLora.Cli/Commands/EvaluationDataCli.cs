using System.CommandLine;
using MixLora.Data;
using MixLora.Evaluation;

namespace MixLora.Cli.Commands;

/// <summary>
/// The options of `mixlora evaluate` that choose what is scored: commonsense tasks found in a folder, or one task file
/// of the user's own.
/// </summary>
public sealed class EvaluationDataCli
{
    public Option<string> Tasks { get; } = new("--tasks")
    {
        Description = $"Task keys joined by ';' ({string.Join(", ", CommonsenseTasks.Keys)}).",
        DefaultValueFactory = _ => string.Join(";", CommonsenseTasks.Keys),
    };

    public Option<string?> Data { get; } = new("--data")
    {
        Description = "Folder with the task files: LLM-Adapters layout <Folder>/test.json (e.g. ARC-Easy/test.json), or original records as " +
                      "<task>.json|.jsonl|.parquet or <task>/<split>.json|.jsonl|.parquet. Default: the bundled LLM-Adapters test sets. " +
                      "Or a FILE (.json|.jsonl|.parquet) holding a task of your own, scored with --metric: records with instruction (+ input, rendered " +
                      "with --template) or prompt (used as is), output, and for the choice metric options and answer (index or text).",
    };

    public Option<string?> Metric { get; } = new("--metric")
    {
        Description = "With --data FILE: exact (greedy generation; correct when its first line(s), trimmed, equal the record's output, case-sensitively) " +
                      "or choice (the option whose tokens are most likely after the prompt). Default: choice when the file's first record has options, else exact.",
    };

    public Option<string?> TaskName { get; } = new("--task-name")
    {
        Description = "With --data FILE: the task's name in the table and results (default: the file name without extension).",
    };

    public Option<string> Template { get; } = new("--template")
    {
        Description = "Prompt template for instruction records (LLM-Adapters files, your own task file): alpaca (what training on the LLM-Adapters files " +
                      "uses by default), moe_peft or a template JSON file; use the one the adapter was trained with.",
        DefaultValueFactory = _ => PromptTemplate.AlpacaName,
    };

    public Option<bool> Strict { get; } = new("--strict") { Description = "Fail on the first malformed record instead of reporting and skipping it." };

    public IEnumerable<Option> All => [Tasks, Data, Metric, TaskName, Template, Strict];

    /// <summary>Reads the tasks the command line names.</summary>
    /// <param name="protocolName">The run's protocol, which scores commonsense tasks.</param>
    /// <param name="protocolOptions">Options that only make sense for commonsense tasks (refused with a task file when typed).</param>
    /// <returns>The tasks, and how they are scored in words ("the exact metric").</returns>
    public (List<EvaluationTaskData> Tasks, string ScoredWith) Load(ParseResult parse, string protocolName, IEnumerable<Option> protocolOptions)
    {
        var options = new EvaluationDataOptions { Template = PromptTemplate.Resolve(parse.GetValue(Template)), Strict = parse.GetValue(Strict) };
        string path = parse.GetValue(Data) ?? CommonOptions.BundledDataDir;
        if (!IsTaskFile(path))
        {
            RejectTyped(parse, Metric, "needs --data FILE (a task file of your own); the built-in tasks are scored with --protocol");
            RejectTyped(parse, TaskName, "needs --data FILE (a task file of your own)");
            var tasks = ParseTasks(parse.GetValue(Tasks)!).Select(key => EvaluationTasks.Load(key, EvaluationTasks.ResolveFile(key, path), options)).ToList();
            return (tasks, $"the {protocolName} protocol");
        }
        RejectTyped(parse, Tasks, "picks built-in tasks; with --data FILE the file is the one task (name it with --task-name)");
        foreach (var option in protocolOptions)
            RejectTyped(parse, option, "applies to the built-in tasks; a task file is scored with --metric exact|choice");
        var metric = parse.GetValue(Metric) is { } name ? CustomTaskMetrics.Parse(name) : (CustomTaskMetric?)null;
        var task = EvaluationTasks.LoadCustom(path, metric, options, parse.GetValue(TaskName));
        return ([task], $"the {task.Metric.ToString()!.ToLowerInvariant()} metric" + (metric is null ? " (chosen by the file's first record)" : ""));
    }

    /// <summary>
    /// Whether --data names a task file rather than a folder: an existing file, or a missing path with an extension
    /// (so that a mistyped file name is reported as a missing file).
    /// </summary>
    private static bool IsTaskFile(string path) => File.Exists(path) || (!Directory.Exists(path) && Path.HasExtension(path));

    /// <summary>Fails when <paramref name="option"/> was typed on the command line (its default value does not count).</summary>
    private static void RejectTyped(ParseResult parse, Option option, string why)
    {
        if (parse.GetResult(option) is { Implicit: false }) throw new MixLoraException($"{option.Name} {why}");
    }

    private static IReadOnlyList<string> ParseTasks(string value)
    {
        var keys = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (keys.Count == 0) throw new MixLoraException($"--tasks \"{value}\": give at least one task key ({string.Join(", ", CommonsenseTasks.Keys)})");
        foreach (var key in keys)
            if (CommonsenseTasks.Find(key) is null) throw new MixLoraException(CommonsenseTasks.UnsupportedTaskMessage(key, value));
        return keys;
    }
}
