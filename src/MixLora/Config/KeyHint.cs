namespace MixLora.Config;

/// <summary>"Did you mean" for misspelt keys and option values: the nearest candidate by edit distance.</summary>
internal static class KeyHint
{
    /// <summary>
    /// The candidate nearest to <paramref name="given"/>, compared case-insensitively with '-' read as '_', when it is
    /// within about a third of the word's length (at least 2 edits); null when nothing is that close.
    /// </summary>
    public static string? Closest(string given, IEnumerable<string> candidates)
    {
        var normalized = Normalize(given);
        int limit = Math.Max(2, normalized.Length / 3);
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            int distance = EditDistance(normalized, Normalize(candidate));
            if (distance < bestDistance) (best, bestDistance) = (candidate, distance);
        }
        return bestDistance <= limit ? best : null;
    }

    private static string Normalize(string s) => s.ToLowerInvariant().Replace('-', '_');

    /// <summary>Levenshtein distance with adjacent transpositions counted as one edit.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
