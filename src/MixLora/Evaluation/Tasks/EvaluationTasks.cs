using System.Text.Json;
using MixLora.Data;

namespace MixLora.Evaluation;

/// <summary>
/// Reads the evaluation data of the eight commonsense tasks (spec §8.1–8.2) from local files, in either record shape:
/// <list type="bullet">
/// <item><see cref="TaskRecordShape.LlmAdapters"/> (the files we ship, <c>assets/commonsense/&lt;Folder&gt;/test.json</c>):
/// generation prompt = the template rendering of instruction and input; candidates = the task's answer words; the
/// choice prompt and candidate token texts follow <see cref="LlmAdaptersChoice"/>.</item>
/// <item><see cref="TaskRecordShape.Original"/> (the Hugging Face datasets the reference downloads, saved as .json,
/// .jsonl or .parquet): both prompts = the reference's evaluation prompt (<see cref="ReferenceTaskFormats"/>);
/// candidates = the reference's candidate labels; token texts = <c>" " + label</c>.</item>
/// </list>
/// The shape is decided per file by its first record: one with an <c>instruction</c> field is LLM-Adapters (its
/// <c>answer</c> is then required per record), anything else is read with the task's original fields.
/// </summary>
public static partial class EvaluationTasks
{
    /// <summary>
    /// Reads a task's evaluation items from <paramref name="path"/>: a .json/.jsonl/.parquet file, or a folder searched
    /// with <see cref="ResolveFile"/>.
    /// </summary>
    /// <exception cref="MixLoraException">Unknown task key, or no data at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidFileException">Unreadable or empty file, no valid record, or (strict) a malformed record.</exception>
    public static EvaluationTaskData Load(string taskKey, string path, EvaluationDataOptions? options = null)
    {
        options ??= EvaluationDataOptions.Default;
        var (task, format) = FindTask(taskKey);
        var file = Directory.Exists(path) ? ResolveFile(taskKey, path) : path;

        using var records = TaskFileRecords.Read(file);
        var shape = DetectShape(records);
        var skipped = new List<SkippedRecord>();
        List<EvaluationExample> examples;
        if (shape == TaskRecordShape.LlmAdapters)
        {
            examples = ReadRecords(records, options.Strict, skipped,
                (r, index) => LlmAdaptersExample(r, index, task, options.Template));
            return new EvaluationTaskData(task.Key, file, shape, task.Answers, LlmAdaptersChoice.CandidateTokenTexts(task.Answers), examples, skipped);
        }

        examples = ReadRecords(records, options.Strict, skipped, (r, index) =>
        {
            var question = format.Read(r);
            return new EvaluationExample(index, question.Prompt, question.Prompt, question.Label);
        });
        var tokenTexts = format.Candidates.Select(c => " " + c).ToList();
        return new EvaluationTaskData(task.Key, file, shape, format.Candidates, tokenTexts, examples, skipped);
    }

    /// <summary>
    /// The reference's training texts (prompt + train suffix <c>" " + answer</c>, no template) of a file of original
    /// records, e.g. a task's Hugging Face train split saved as .parquet. Every record must be well formed.
    /// </summary>
    /// <exception cref="InvalidFileException">Unreadable file, a malformed record, or an LLM-Adapters file.</exception>
    public static IReadOnlyList<TrainingText> LoadTrainingTexts(string taskKey, string file)
    {
        var (task, format) = FindTask(taskKey);
        using var records = TaskFileRecords.Read(file);
        if (DetectShape(records) != TaskRecordShape.Original)
            throw new InvalidFileException(file, $"holds LLM-Adapters records (instruction, output); expected original {task.Key} records ({string.Join(", ", format.Fields)})");
        return ReadRecords(records, strict: true, [], (r, _) => format.Read(r).ToTrainingText());
    }

    /// <summary>The record shape of a task file (decided by its first record).</summary>
    /// <exception cref="InvalidFileException">Unreadable or empty file.</exception>
    public static TaskRecordShape DetectShape(string file)
    {
        using var records = TaskFileRecords.Read(file);
        return DetectShape(records);
    }

    private static TaskRecordShape DetectShape(TaskFileRecords records) =>
        FirstObject(records).TryGetProperty("instruction", out _) ? TaskRecordShape.LlmAdapters : TaskRecordShape.Original;

    /// <summary>The first record that is a JSON object: what a file's layout is decided by.</summary>
    private static JsonElement FirstObject(TaskFileRecords records)
    {
        foreach (var record in records.Records)
        {
            if (record.ParseError is null && record.Element.ValueKind == JsonValueKind.Object) return record.Element;
        }
        throw new InvalidFileException(records.Path, "no record is a JSON object");
    }

    private static EvaluationExample LlmAdaptersExample(RecordFields r, int index, CommonsenseTask task, PromptTemplate template)
    {
        var instruction = r.String("instruction");
        if (instruction.Length == 0) throw new RecordFormatException("instruction", "is empty");
        var input = r.OptionalString("input") ?? "";
        var answer = r.String("answer");
        int label = IndexOf(task.Answers, answer);
        if (label < 0) throw new RecordFormatException("answer", $"\"{answer}\" is not an answer of task {task.Key} ({string.Join(", ", task.Answers)})");
        var prompt = template.Render(instruction, input).Prompt;
        return new EvaluationExample(index, LlmAdaptersChoice.ChoicePrompt(prompt, task.Answers), prompt, label);
    }

    /// <summary>
    /// Builds one item per record. A malformed record throws (strict) or is added to <paramref name="skipped"/>;
    /// a file without any valid record always throws.
    /// </summary>
    private static List<T> ReadRecords<T>(TaskFileRecords records, bool strict, List<SkippedRecord> skipped, Func<RecordFields, int, T> build)
    {
        var items = new List<T>(records.Records.Count);
        foreach (var record in records.Records)
        {
            try
            {
                if (record.ParseError is not null) throw new RecordFormatException(null, record.ParseError);
                items.Add(build(new RecordFields(record.Element), record.Index));
            }
            catch (RecordFormatException e)
            {
                if (strict) throw new InvalidFileException(records.Path, $"record {record.Index}: {e.Reason}");
                skipped.Add(new SkippedRecord(records.Path, record.Index, e.Reason));
            }
        }
        if (items.Count == 0)
            throw new InvalidFileException(records.Path, $"no valid record: all {skipped.Count} records are malformed (first: record {skipped[0].Index}: {skipped[0].Reason})");
        return items;
    }

    private static int IndexOf(IReadOnlyList<string> words, string word)
    {
        for (int i = 0; i < words.Count; i++)
        {
            if (words[i] == word) return i;
        }
        return -1;
    }
}
