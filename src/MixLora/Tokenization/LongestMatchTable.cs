namespace MixLora.Tokenization;

/// <summary>Finds the longest of a fixed set of strings that starts at a given position (ordinal comparison).</summary>
internal sealed class LongestMatchTable
{
    // Candidates grouped by first character, longest first, so the first hit is the longest match.
    private readonly Dictionary<char, string[]> _byFirstChar;

    public LongestMatchTable(IEnumerable<string> entries)
    {
        _byFirstChar = entries
            .Where(e => e.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .GroupBy(e => e[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(e => e.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>The longest entry that <paramref name="text"/> has at <paramref name="start"/>, or null.</summary>
    public string? Match(ReadOnlySpan<char> text, int start)
    {
        if (start >= text.Length || !_byFirstChar.TryGetValue(text[start], out var candidates)) return null;
        var rest = text[start..];
        foreach (var candidate in candidates)
        {
            if (rest.StartsWith(candidate, StringComparison.Ordinal)) return candidate;
        }
        return null;
    }
}
