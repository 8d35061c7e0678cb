namespace MixLora.Evaluation;

/// <summary>
/// How the reference reads one commonsense task from its original dataset (spec §8.2): the split it evaluates, the
/// candidate labels in label order, and the prompt built from a record's fields.
/// </summary>
public sealed class ReferenceTaskFormat
{
    private readonly Func<RecordFields, ReferenceTaskFormat, ReferenceQuestion> _build;

    internal ReferenceTaskFormat(string key, string evalSplit, IReadOnlyList<string> candidates,
        IReadOnlyList<string> fields, Func<RecordFields, ReferenceTaskFormat, ReferenceQuestion> build)
    {
        Key = key;
        EvalSplit = evalSplit;
        Candidates = candidates;
        Fields = fields;
        _build = build;
    }

    /// <summary>Reference task key, e.g. "arc-c".</summary>
    public string Key { get; }

    /// <summary>The Hub split the reference evaluates: "test" (arc-e, arc-c, obqa) or "validation".</summary>
    public string EvalSplit { get; }

    /// <summary>The split the reference trains on (always "train").</summary>
    public string TrainSplit => "train";

    /// <summary>Candidate labels in label order (ARC: 1 2 3 4 A B C D E; BoolQ: true false; ...).</summary>
    public IReadOnlyList<string> Candidates { get; }

    /// <summary>The record fields the prompt is built from (for error messages and documentation).</summary>
    public IReadOnlyList<string> Fields { get; }

    internal ReferenceQuestion Read(RecordFields record) => _build(record, this);

    /// <summary>The index of <paramref name="answer"/> among the candidates, or a record error naming <paramref name="field"/>.</summary>
    internal int LabelOf(string answer, string field)
    {
        int label = IndexOf(answer);
        return label >= 0 ? label : throw new RecordFormatException(field, $"\"{answer}\" is not a candidate ({string.Join(", ", Candidates)})");
    }

    /// <summary>The candidate at <paramref name="label"/>, or a record error naming <paramref name="field"/>.</summary>
    internal ReferenceQuestion Question(string prompt, int label, string field, string shownValue) =>
        label >= 0 && label < Candidates.Count
            ? new ReferenceQuestion(prompt, label, Candidates[label])
            : throw new RecordFormatException(field, $"{shownValue} is outside the {Candidates.Count} candidates ({string.Join(", ", Candidates)})");

    private int IndexOf(string answer)
    {
        for (int i = 0; i < Candidates.Count; i++)
        {
            if (Candidates[i] == answer) return i;
        }
        return -1;
    }
}
