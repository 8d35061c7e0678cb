namespace MixLora.Evaluation;

/// <summary>
/// One record of a task file is malformed. Internal: the loader turns it into a <see cref="SkippedRecord"/> or an
/// <see cref="InvalidFileException"/> that names the file and the record.
/// </summary>
internal sealed class RecordFormatException(string? field, string problem) : Exception(problem)
{
    /// <summary>The offending field ("choices.text"), or null when the record as a whole is wrong.</summary>
    public string? Field { get; } = field;

    /// <summary>"field \"answerKey\": ..." or just the problem.</summary>
    public string Reason => Field is null ? Message : $"field \"{Field}\": {Message}";
}
