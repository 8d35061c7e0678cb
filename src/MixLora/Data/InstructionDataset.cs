using System.Text.Json;
using MixLora.IO;

namespace MixLora.Data;

/// <summary>
/// Instruction records read from a <c>.json</c> file (a JSON array of objects) or a <c>.jsonl</c> file (one object
/// per line); like Hugging Face's JSON loader, either extension may hold either layout. Fields: <c>instruction</c>
/// (required string), <c>output</c> (required, a string or null = ""), <c>input</c> (optional string, null = ""), <c>answer</c> (optional); other
/// fields are ignored.
/// </summary>
public sealed class InstructionDataset
{
    private InstructionDataset(string path, IReadOnlyList<InstructionRecord> records)
    {
        Path = path;
        Records = records;
    }

    /// <summary>The file the records came from.</summary>
    public string Path { get; }

    public IReadOnlyList<InstructionRecord> Records { get; }

    public int Count => Records.Count;

    /// <summary>Whether a data path names a file this loader reads (by extension).</summary>
    public static bool IsSupportedPath(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads every record; errors name the file and the record (array index or line number).</summary>
    /// <param name="requireAnswer">Require <c>output</c> and <c>answer</c> (LLM-Adapters task files).</param>
    /// <exception cref="InvalidFileException">Missing file, bad JSON, a malformed record, or no records at all.</exception>
    public static InstructionDataset Load(string path, bool requireAnswer = false)
    {
        if (Directory.Exists(path)) throw new InvalidFileException(path, "is a folder; expected a .json or .jsonl data file");
        if (!File.Exists(path)) throw new InvalidFileException(path, "data file not found");
        if (!IsSupportedPath(path))
            throw new InvalidFileException(path, "unsupported data file: expected a .json (array of records) or .jsonl (one record per line) file");

        var text = Utf8TextFile.Read(path);
        var start = text.AsSpan().TrimStart();
        if (start.Length == 0) throw new InvalidFileException(path, "the file is empty; expected a JSON array of records or one record per line");
        if (start[0] == '{') ThrowIfSingleObject(path, text);
        var records = start[0] == '[' ? ReadArray(path, text, requireAnswer) : ReadLines(path, text, requireAnswer);
        if (records.Count == 0) throw new InvalidFileException(path, "the dataset is empty (no records); training needs at least one example");
        return new InstructionDataset(path, records);
    }

    /// <summary>
    /// A file that is one JSON object is not a dataset, unless it is a one-line record (JSON Lines with one line). A
    /// pretty-printed record or a wrapper such as {"train": [...]} would otherwise fail at line 1 with a parse error.
    /// </summary>
    private static void ThrowIfSingleObject(string path, string text)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return; // several values: JSON Lines, read line by line
        }
        using (document)
        {
            var root = document.RootElement;
            bool oneLine = !text.Trim().Contains('\n');
            if (oneLine && root.TryGetProperty("instruction", out _)) return;
            var keys = string.Join(", ", root.EnumerateObject().Select(p => $"\"{p.Name}\""));
            throw new InvalidFileException(path, $"holds a single JSON object (keys: {keys}); expected a JSON array of records [{{...}}, ...] " +
                                                 "or JSON Lines (one record object per line)");
        }
    }

    private static List<InstructionRecord> ReadArray(string path, string text, bool requireAnswer)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(path, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(" LineNumber:")[0]}", e);
        }
        using (document)
        {
            var records = new List<InstructionRecord>(document.RootElement.GetArrayLength());
            int index = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                records.Add(ReadRecord(path, $"record {index}", element, requireAnswer));
                index++;
            }
            return records;
        }
    }

    private static List<InstructionRecord> ReadLines(string path, string text, bool requireAnswer)
    {
        var records = new List<InstructionRecord>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) continue;
            var where = $"line {i + 1} (record {records.Count})";
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidFileException(path, $"{where}: not a valid JSON object ({e.Message.Split(" LineNumber:")[0]}); " +
                                                     "a .jsonl file holds one JSON object per line, a .json file a JSON array", e);
            }
            using (document) records.Add(ReadRecord(path, where, document.RootElement, requireAnswer));
        }
        return records;
    }

    private static InstructionRecord ReadRecord(string path, string where, JsonElement element, bool requireAnswer)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException(path, $"{where}: expected an object with \"instruction\", got {Config.JsonSource.Kind(element.ValueKind)}");
        string? Field(string key, bool required)
        {
            if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
                return required ? throw new InvalidFileException(path, $"{where}: missing field \"{key}\"") : null;
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidFileException(path, $"{where}: field \"{key}\" must be a string, got {Config.JsonSource.Kind(value.ValueKind)}");
            return value.GetString();
        }
        var instruction = Field("instruction", true)!;
        if (instruction.Length == 0) throw new InvalidFileException(path, $"{where}: field \"instruction\" is empty");
        // A missing output is almost always a misnamed field ("response", "answer"): training would learn the prompt alone.
        if (!element.TryGetProperty("output", out _))
            throw new InvalidFileException(path, $"{where}: missing field \"output\" (the response to train on; use \"\" for none); " +
                                                 $"the record has {string.Join(", ", element.EnumerateObject().Select(p => $"\"{p.Name}\""))}");
        var output = Field("output", requireAnswer) ?? "";
        var answer = Field("answer", requireAnswer);
        return new InstructionRecord(instruction, Field("input", false) ?? "", output, answer);
    }
}
