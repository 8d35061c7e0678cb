namespace MixLora.Evaluation;

/// <summary>
/// Shortens a tokenised prompt to a length budget by dropping tokens after the BOS from the front, so the answer cue
/// at the end survives (the reference keeps the head and can cut the cue off, spec §8.4).
/// </summary>
public static class PromptTruncation
{
    public static IReadOnlyList<int> KeepEnd(IReadOnlyList<int> ids, int maxLength, int? bosId)
    {
        if (ids.Count <= maxLength) return ids;
        bool keepBos = bosId is int bos && ids.Count > 0 && ids[0] == bos;
        int head = keepBos ? 1 : 0;
        var kept = new List<int>(maxLength);
        if (keepBos) kept.Add(ids[0]);
        kept.AddRange(ids.Skip(ids.Count - (maxLength - head)));
        return kept;
    }
}
