namespace MixLora.Evaluation;

/// <summary>A malformed record left out of an evaluation (missing answer, label outside the candidates, ...).</summary>
/// <param name="File">The data file.</param>
/// <param name="Index">The record's 0-based position in the file (array index or line).</param>
/// <param name="Reason">What was wrong, naming the field.</param>
public sealed record SkippedRecord(string File, int Index, string Reason)
{
    public override string ToString() => $"{File} record {Index}: {Reason}";
}
