using System.Text.Json;
using MixLora.IO;

namespace MixLora.Evaluation;

/// <summary>One record of a task file: its JSON value, or why its line could not be parsed (.jsonl only).</summary>
/// <param name="Index">0-based record position (array index, or count of non-blank lines before it).</param>
internal readonly record struct RawRecord(int Index, JsonElement Element, string? ParseError);

/// <summary>
/// The records of a .json, .jsonl or .parquet task file as JSON values (Parquet rows are converted), so one parser
/// serves every format. Owns the parsed documents.
/// </summary>
internal sealed class TaskFileRecords : IDisposable
{
    private readonly List<JsonDocument> _documents = [];

    private TaskFileRecords(string path) => Path = path;

    public string Path { get; }

    public List<RawRecord> Records { get; } = [];

    /// <summary>Extensions a task file may have.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".json", ".jsonl", ".parquet"];

    public static bool IsSupportedPath(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads every record; a broken file (not a single broken .jsonl line) throws.</summary>
    /// <exception cref="InvalidFileException">Missing, unsupported, unreadable or empty file.</exception>
    public static TaskFileRecords Read(string path)
    {
        if (Directory.Exists(path)) throw new InvalidFileException(path, "is a folder; expected a .json, .jsonl or .parquet task file");
        if (!File.Exists(path)) throw new InvalidFileException(path, "task data file not found");
        if (!IsSupportedPath(path))
            throw new InvalidFileException(path, "unsupported task data file: expected .json (array or JSON lines), .jsonl or .parquet");

        var file = new TaskFileRecords(path);
        try
        {
            if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) file.AddArray(ParquetRows.ReadAsJson(path));
            else file.ReadJson();
            if (file.Records.Count == 0) throw new InvalidFileException(path, "the file has no records");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var document in _documents) document.Dispose();
        _documents.Clear();
    }

    private void ReadJson()
    {
        var text = Utf8TextFile.Read(Path);
        var start = text.AsSpan().TrimStart();
        if (start.Length == 0) throw new InvalidFileException(Path, "the file is empty");
        // Like Hugging Face's JSON loader, either extension may hold an array or JSON lines.
        if (start[0] == '[') AddArray(ParseWhole(text));
        else ReadLines(text);
    }

    private JsonDocument ParseWhole(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(Path, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {ShortMessage(e)}", e);
        }
    }

    private void AddArray(JsonDocument document)
    {
        _documents.Add(document);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
            throw new InvalidFileException(Path, $"expected a JSON array of records, got {Config.JsonSource.Kind(document.RootElement.ValueKind)}");
        foreach (var element in document.RootElement.EnumerateArray()) Records.Add(new RawRecord(Records.Count, element, null));
    }

    private void ReadLines(string text)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) continue;
            try
            {
                var document = JsonDocument.Parse(line);
                _documents.Add(document);
                Records.Add(new RawRecord(Records.Count, document.RootElement, null));
            }
            catch (JsonException e)
            {
                Records.Add(new RawRecord(Records.Count, default, $"line {i + 1} is not valid JSON ({ShortMessage(e)})"));
            }
        }
    }

    private static string ShortMessage(JsonException e) => (e.Message ?? "").Split(" LineNumber:")[0];
}
