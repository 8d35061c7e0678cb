using MixLora.Tokenization;

namespace MixLora.Evaluation;

/// <summary>How a task's candidate answers tokenise, for the choice protocol.</summary>
internal static class CandidateTokens
{
    /// <summary>
    /// The candidate ids of the reference rule (the last id of each candidate text, spec §8.4); throws when two candidates
    /// share it, because the choice protocol could not tell them apart.
    /// </summary>
    public static IReadOnlyList<int> LastIds(EvaluationTaskData task, ITextTokenizer tokenizer)
    {
        var ids = task.CandidateTokenIds(tokenizer);
        var clash = ids.Select((id, i) => (id, i)).GroupBy(p => p.id).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new MixLoraException($"task \"{task.TaskKey}\": candidates {string.Join(" and ", clash.Select(p => $"\"{task.Candidates[p.i]}\""))} " +
                                       $"end in the same token id {clash.Key} with this tokenizer, so the choice protocol cannot tell them apart; use --protocol generate");
        return ids;
    }

    /// <summary>
    /// A warning when some candidate is several tokens long (BOS and leading whitespace-only pieces aside): the reference
    /// rule then compares the candidates' last pieces, which the model does not predict right after the cue.
    /// </summary>
    public static string? MultiTokenWarning(EvaluationTaskData task, ITextTokenizer tokenizer)
    {
        var multi = task.CandidateTokenTexts
            .Select((text, i) => (Candidate: task.Candidates[i], Pieces: Pieces(text, tokenizer)))
            .Where(c => c.Pieces.Count > 1)
            .ToList();
        if (multi.Count == 0) return null;
        var examples = string.Join(", ", multi.Take(3).Select(c => $"\"{c.Candidate}\" = {string.Join(" + ", c.Pieces.Select(p => $"\"{p}\""))}"));
        return $"task \"{task.TaskKey}\": {multi.Count} of {task.Candidates.Count} candidates are several tokens with this tokenizer ({examples}); " +
               "the choice protocol compares their last tokens as the reference does, which says little here; --choice-scoring sequence (whole-candidate likelihood) or --protocol generate read whole answers";
    }

    private static List<string> Pieces(string text, ITextTokenizer tokenizer)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: false).SkipWhile(id => tokenizer.Decode([id]).Trim().Length == 0);
        return ids.Select(id => tokenizer.Decode([id])).ToList();
    }
}
