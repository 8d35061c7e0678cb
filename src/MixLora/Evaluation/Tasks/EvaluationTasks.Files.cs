using MixLora.Data;

namespace MixLora.Evaluation;

public static partial class EvaluationTasks
{
    /// <summary>The reference split evaluated for a task key: "test" for arc-e, arc-c and obqa, else "validation".</summary>
    /// <exception cref="MixLoraException">Unknown task key.</exception>
    public static string EvalSplit(string taskKey) => FindTask(taskKey).Format.EvalSplit;

    /// <summary>
    /// The files <see cref="ResolveFile"/> looks for, in order: the LLM-Adapters layout <c>&lt;Folder&gt;/test.json</c>,
    /// then original records as <c>&lt;key&gt;.{json,jsonl,parquet}</c>, <c>&lt;key&gt;/&lt;split&gt;.{json,jsonl,parquet}</c> and
    /// the Hub's <c>&lt;key&gt;/&lt;split&gt;-00000-of-00001.parquet</c>, where split is <see cref="EvalSplit"/>.
    /// </summary>
    public static IReadOnlyList<string> CandidateFiles(string taskKey, string dataDir)
    {
        var (task, format) = FindTask(taskKey);
        return [Path.Combine(dataDir, task.Folder, "test.json"), .. SplitFiles(task.Key, format.EvalSplit, dataDir, includeFlat: true)];
    }

    /// <summary>
    /// Files holding original records of one split of a task under <paramref name="dataDir"/>: <c>&lt;key&gt;.ext</c>
    /// (only when <paramref name="includeFlat"/>), <c>&lt;key&gt;/&lt;split&gt;.ext</c>, <c>&lt;key&gt;/&lt;split&gt;-00000-of-00001.parquet</c>.
    /// </summary>
    public static IReadOnlyList<string> SplitFiles(string taskKey, string split, string dataDir, bool includeFlat)
    {
        var files = new List<string>();
        if (includeFlat) files.AddRange(TaskFileRecords.Extensions.Select(ext => Path.Combine(dataDir, taskKey + ext)));
        files.AddRange(TaskFileRecords.Extensions.Select(ext => Path.Combine(dataDir, taskKey, split + ext)));
        files.Add(Path.Combine(dataDir, taskKey, split + "-00000-of-00001.parquet"));
        return files;
    }

    /// <summary>The first of <see cref="CandidateFiles"/> that exists.</summary>
    /// <exception cref="MixLoraException">Unknown task key, missing folder, or no candidate file (the message lists them).</exception>
    public static string ResolveFile(string taskKey, string dataDir)
    {
        var candidates = CandidateFiles(taskKey, dataDir);
        if (!Directory.Exists(dataDir))
            throw new MixLoraException($"evaluation data folder \"{dataDir}\" of task \"{taskKey}\" not found ({Path.GetFullPath(dataDir)})");
        foreach (var file in candidates)
        {
            if (File.Exists(file)) return file;
        }
        var tried = string.Join(", ", candidates.Select(f => Path.GetRelativePath(dataDir, f)));
        throw new MixLoraException($"no evaluation data of task \"{taskKey}\" in folder \"{dataDir}\" ({Path.GetFullPath(dataDir)}); tried {tried}");
    }

    private static (CommonsenseTask Task, ReferenceTaskFormat Format) FindTask(string taskKey)
    {
        var task = CommonsenseTasks.Find(taskKey);
        var format = ReferenceTaskFormats.Find(taskKey);
        if (task is null || format is null)
        {
            var known = CommonsenseTasks.UnsupportedReferenceKeys.Contains(taskKey) ? "a reference task this library does not evaluate" : "an unknown task";
            throw new MixLoraException($"task \"{taskKey}\" is {known} (valid: {string.Join(", ", CommonsenseTasks.Keys)})");
        }
        return (task, format);
    }
}
