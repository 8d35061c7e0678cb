using System.Text.Json;
using MixLora.Config;
using MixLora.Data;
using MixLora.Evaluation;
using MixLora.IO;

namespace MixLora.Training;

/// <summary>
/// Evaluates a training adapter on the tasks its <c>task_name</c> names (spec §6.3: every <c>evaluate_steps</c>
/// micro-steps and at the end), with the choice protocol, <c>evaluate_batch_size</c> and <c>cutoff_len</c>. Results
/// accumulate in <c>&lt;adapter&gt;/evaluation.json</c> (the evaluate command's format, with training_steps).
/// Evaluation draws no random numbers, so it does not change training or an exact resume.
/// </summary>
internal sealed class TrainingEvaluation
{
    public const string FileName = "evaluation.json";

    private readonly IReadOnlyList<EvaluationTaskData> _tasks;
    private readonly List<TaskResult> _results = [];
    private readonly string _file;

    private TrainingEvaluation(IReadOnlyList<EvaluationTaskData> tasks, string adapterDir)
    {
        _tasks = tasks;
        _file = Path.Combine(adapterDir, FileName);
    }

    /// <summary>
    /// The evaluation of one adapter, or null when it names no task or no test data is found (reported through
    /// <paramref name="message"/>). Test files are looked for next to the training data, then in <paramref name="fallbackDir"/>.
    /// </summary>
    public static TrainingEvaluation? Create(AdapterTrainingConfig config, string baseDir, string? fallbackDir, string adapterDir, Action<string> message)
    {
        if (config.TaskKeys.Count == 0) return null;
        var sources = TrainingData.ResolveSources(config, baseDir);
        var template = PromptTemplate.Resolve(config.Prompt ?? PromptTemplate.AlpacaName, baseDir);
        var tasks = new List<EvaluationTaskData>();
        foreach (var (key, source) in config.TaskKeys.Zip(sources))
        {
            var trainDir = Path.GetDirectoryName(Path.GetFullPath(source.Path))!;
            string?[] folders = [trainDir, Path.GetDirectoryName(trainDir), fallbackDir];
            var file = folders.OfType<string>().Select(dir => TryResolve(key, dir)).FirstOrDefault(f => f is not null);
            if (file is null)
            {
                message($"adapter \"{config.Name}\": no test data for task \"{key}\" next to {source.Path}" +
                        (fallbackDir is null ? "" : $" or in {fallbackDir}") + "; it is not evaluated");
                return null;
            }
            tasks.Add(EvaluationTasks.Load(key, file, new EvaluationDataOptions { Template = template }));
        }
        return new TrainingEvaluation(tasks, adapterDir);
    }

    private static string? TryResolve(string key, string dir)
    {
        try { return EvaluationTasks.ResolveFile(key, dir); }
        catch (MixLoraException) { return null; }
    }

    /// <summary>The micro-step of the latest evaluation, or null.</summary>
    public long? LastStep => _results.Count == 0 ? null : _results.Max(r => r.TrainingSteps);

    /// <summary>The task data this adapter is scored on, in task_name order.</summary>
    public IReadOnlyList<EvaluationTaskData> Tasks => _tasks;

    /// <summary>Keeps the results of an earlier run up to <paramref name="microStep"/> (resume), or forgets them (fresh start).</summary>
    public void Restore(long? microStep)
    {
        _results.Clear();
        if (microStep is null || !File.Exists(_file))
        {
            File.Delete(_file);
            return;
        }
        _results.AddRange(ReadResults(_file).Where(r => r.TrainingSteps is long s && s <= microStep));
    }

    /// <summary>Scores the adapter now (the evaluator puts its training mode and router statistics back afterwards).</summary>
    public IReadOnlyList<TaskResult> Run(AdapterTask task, Models.CausalLM model, Tokenization.ITextTokenizer tokenizer, int cutoff)
    {
        var options = new EvaluationOptions { BatchSize = task.Config.EvaluateBatchSize ?? 16, CutoffLen = cutoff };
        var report = CommonsenseEvaluator.Run(model, tokenizer, [new EvaluationTarget(task.Name, task.Adapter)], _tasks, options);
        var results = report.Results.Select(r => r with { TrainingSteps = task.MicroStep }).ToList();
        _results.AddRange(results);
        EvaluationResultsFile.Write(_file, new EvaluationReport(_results, [], []));
        return results;
    }

    /// <summary>The entries of an earlier evaluation.json; a damaged file counts as empty (it is rewritten).</summary>
    private static IEnumerable<TaskResult> ReadResults(string file)
    {
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            return json.RootElement.EnumerateArray().Select(EvaluationResultsFile.ReadResult).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return [];
        }
    }
}
