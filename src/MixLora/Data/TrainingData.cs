using MixLora.Config;
using MixLora.Evaluation;

namespace MixLora.Data;

/// <summary>
/// Turns an adapter's <c>task_name</c>/<c>data</c>/<c>prompt</c> into training texts (spec §6.2, §7).
/// <list type="bullet">
/// <item>casual: <c>data</c> is a .json/.jsonl instruction file; text = <c>prompt</c> template (default moe_peft)
/// rendered with the record's instruction, input and output.</item>
/// <item>a task key (arc-c, boolq, …): <c>data</c> is a task file or a folder holding one (searched in this
/// order: <c>train.json</c>, <c>&lt;Folder&gt;/train.json</c>, then <c>train.{jsonl,parquet}</c>,
/// <c>train-00000-of-00001.parquet</c>, <c>&lt;key&gt;/train.{json,jsonl,parquet}</c> and
/// <c>&lt;key&gt;/train-00000-of-00001.parquet</c>). Two record shapes:
/// <list type="bullet">
/// <item>LLM-Adapters (.json/.jsonl whose first record has <c>instruction</c>): the task's own question text in
/// <c>instruction</c> and "the correct answer is X" in <c>output</c>; text = template (default alpaca, as
/// LLM-Adapters trains) rendered with instruction and output. The <c>answer</c> field must be one of the task's
/// answers.</item>
/// <item>original records (the Hugging Face dataset the reference downloads, saved as .json/.jsonl/.parquet): text =
/// the reference's prompt + train suffix (spec §8.2, <see cref="Evaluation.ReferenceTaskFormats"/>), no template;
/// <c>prompt</c> is ignored.</item>
/// </list>
/// This library never downloads.</item>
/// <item>"a;b": the concatenation of each task's texts, in task order; <c>data</c> holds one path per task.</item>
/// </list>
/// Relative paths are resolved against the base folder the caller gives (for example the config file's folder).
/// </summary>
public static class TrainingData
{
    /// <summary>The data files of an adapter; throws if a path is missing or does not exist.</summary>
    /// <exception cref="MixLoraException">No data path, or a path that does not exist.</exception>
    public static IReadOnlyList<TrainingDataSource> ResolveSources(AdapterTrainingConfig adapter, string baseDir)
    {
        if (adapter.IsCasual)
        {
            if (adapter.Data is null)
                throw new MixLoraException("missing key \"data\": a casual adapter needs a .json or .jsonl instruction data file");
            var path = Path.Combine(baseDir, adapter.Data);
            if (Directory.Exists(path)) throw new MixLoraException($"data \"{adapter.Data}\" is a folder; expected a .json or .jsonl file ({Path.GetFullPath(path)})");
            if (!File.Exists(path)) throw new MixLoraException($"data file \"{adapter.Data}\" not found ({Path.GetFullPath(path)})");
            if (!InstructionDataset.IsSupportedPath(path))
                throw new MixLoraException($"data file \"{adapter.Data}\" is not a .json or .jsonl file (Hugging Face Hub datasets are not downloaded)");
            return [new TrainingDataSource(null, path)];
        }

        var keys = adapter.TaskKeys;
        var paths = adapter.DataPaths;
        var sources = new List<TrainingDataSource>();
        for (int i = 0; i < keys.Count; i++)
        {
            var task = CommonsenseTasks.Find(keys[i]) ?? throw new MixLoraException(CommonsenseTasks.UnsupportedTaskMessage(keys[i], adapter.TaskName));
            if (i >= paths.Count)
                throw new MixLoraException($"task \"{task.Key}\" needs a data path in key \"data\" (the LLM-Adapters {task.Folder}/{CommonsenseTask.TrainFileName}; " +
                                           "one path per task joined by ';'); this library does not download datasets");
            sources.Add(new TrainingDataSource(task, ResolveTaskFile(task, Path.Combine(baseDir, paths[i]), paths[i])));
        }
        return sources;
    }

    /// <summary>
    /// Loads and renders all training texts of an adapter, before training starts. Fails with a message naming the
    /// file and record for a missing file, malformed JSON, a record without instruction, an unknown answer or an
    /// empty dataset.
    /// </summary>
    public static IReadOnlyList<TrainingText> Load(AdapterTrainingConfig adapter, string baseDir)
    {
        var texts = new List<TrainingText>();
        foreach (var source in ResolveSources(adapter, baseDir))
        {
            if (source.Task is { } originalTask && IsOriginalRecordFile(source.Path))
            {
                texts.AddRange(EvaluationTasks.LoadTrainingTexts(originalTask.Key, source.Path));
                continue;
            }
            var template = adapter.Prompt is null && source.Task is not null
                ? PromptTemplate.Alpaca
                : PromptTemplate.Resolve(adapter.Prompt, baseDir);
            var dataset = InstructionDataset.Load(source.Path, requireAnswer: source.Task is not null);
            for (int i = 0; i < dataset.Count; i++)
            {
                var record = dataset.Records[i];
                if (source.Task is { } task && !task.Answers.Contains(record.Answer!))
                    throw new InvalidFileException(source.Path,
                        $"record {i}: answer \"{record.Answer}\" is not an answer of task {task.Key} ({string.Join(", ", task.Answers)})");
                texts.Add(template.Render(record.Instruction, record.Input, record.Output));
            }
        }
        return texts;
    }

    /// <summary>
    /// Whether a task file holds original records: always for .parquet; for JSON, when its first record has no
    /// <c>instruction</c>. A broken JSON file counts as LLM-Adapters so that <see cref="InstructionDataset"/> reports it.
    /// </summary>
    private static bool IsOriginalRecordFile(string path)
    {
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) return true;
        try
        {
            return EvaluationTasks.DetectShape(path) == TaskRecordShape.Original;
        }
        catch (InvalidFileException)
        {
            return false;
        }
    }

    private static string ResolveTaskFile(CommonsenseTask task, string path, string written)
    {
        if (File.Exists(path)) return path;
        if (Directory.Exists(path))
        {
            string[] ownFolder = ["train.jsonl", "train.parquet", "train-00000-of-00001.parquet"];
            var originals = ownFolder.Select(name => Path.Combine(path, name)).Concat(EvaluationTasks.SplitFiles(task.Key, "train", path, includeFlat: false)).ToList();
            foreach (var candidate in new[] { Path.Combine(path, CommonsenseTask.TrainFileName), Path.Combine(path, task.Folder, CommonsenseTask.TrainFileName) }.Concat(originals))
            {
                if (File.Exists(candidate)) return candidate;
            }
            throw new MixLoraException($"data folder \"{written}\" of task \"{task.Key}\" has neither {CommonsenseTask.TrainFileName} nor " +
                                       $"{task.Folder}/{CommonsenseTask.TrainFileName} (LLM-Adapters) nor original records " +
                                       $"({string.Join(", ", originals.Select(f => Path.GetRelativePath(path, f)))}) ({Path.GetFullPath(path)})");
        }
        throw new MixLoraException($"data file \"{written}\" of task \"{task.Key}\" not found ({Path.GetFullPath(path)})");
    }
}
