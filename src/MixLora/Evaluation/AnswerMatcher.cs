using System.Text.RegularExpressions;

namespace MixLora.Evaluation;

/// <summary>
/// Finds the first candidate answer word in generated text (LLM-Adapters' extraction): a candidate counts only as a
/// whole word (not followed or preceded by a letter, digit or underscore), case-sensitively, so "A" does not match
/// inside "Answer" and "answer1" does not match inside "answer10".
/// </summary>
public sealed class AnswerMatcher
{
    private readonly Regex _pattern;
    private readonly Dictionary<string, int> _index;

    public AnswerMatcher(IReadOnlyList<string> candidates)
    {
        _index = candidates.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        // Longest first, so an alternation never stops at a shorter candidate that prefixes a longer one.
        var alternatives = candidates.OrderByDescending(c => c.Length).Select(Regex.Escape);
        _pattern = new Regex($"(?<![\\p{{L}}\\p{{N}}_])({string.Join("|", alternatives)})(?![\\p{{L}}\\p{{N}}_])", RegexOptions.CultureInvariant);
    }

    /// <summary>Index of the first candidate in <paramref name="text"/>, or null when none occurs.</summary>
    public int? Find(string text)
    {
        var match = _pattern.Match(text);
        return match.Success ? _index[match.Groups[1].Value] : null;
    }

    /// <summary>
    /// Whether the answer of <paramref name="text"/> can no longer change as text is appended: a candidate matched and
    /// at least one character follows it.
    /// </summary>
    public bool IsSettled(string text)
    {
        var match = _pattern.Match(text);
        return match.Success && match.Index + match.Length < text.Length;
    }
}
