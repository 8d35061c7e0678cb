using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MixLora.Tokenization;

/// <summary>A stretch [Start, End) of a string, flagged when it is a match of the splitting pattern.</summary>
internal readonly record struct SplitPart(int Start, int End, bool IsMatch);

/// <summary>
/// Runs a Hugging Face (Oniguruma) splitting regex with .NET's engine, with results per Unicode code point.
/// </summary>
/// <remarks>
/// .NET matches UTF-16 units, so a supplementary character (a surrogate pair) would be seen as two characters of
/// category Cs: \p{L} would miss CJK Extension B letters and \p{N}{1,3} would count a pair as two. Before
/// matching, each supplementary character is therefore replaced by one BMP stand-in character of the same
/// Unicode category, and match positions are mapped back. Possessive quantifiers become atomic groups. .NET's \s (\t\n\v\f\r, U+0085 and \p{Z}) is the same
/// set as Oniguruma's Unicode White_Space, and \p{L} / \p{N} are the same general categories.
/// </remarks>
internal sealed class RegexSplitter
{
    private static readonly char[] StandInByCategory = BuildStandIns();
    private readonly Regex _regex;

    public RegexSplitter(Regex regex) => _regex = regex;

    public static RegexSplitter FromPattern(string pattern, string filePath, string where)
    {
        try
        {
            return new RegexSplitter(new Regex(PossessiveQuantifiers.Rewrite(pattern), RegexOptions.CultureInvariant | RegexOptions.Compiled));
        }
        catch (ArgumentException e)
        {
            throw new MixLoraException(
                $"{filePath}: the regex of '{where}' is not supported by .NET's regex engine ({e.Message}); pattern: {pattern}", e);
        }
    }

    public static RegexSplitter FromLiteral(string literal) =>
        new(new Regex(Regex.Escape(literal), RegexOptions.CultureInvariant));

    /// <summary>Splits <paramref name="text"/> into alternating non-empty matches and gaps covering all of it.</summary>
    public List<SplitPart> Split(string text)
    {
        var parts = new List<SplitPart>();
        string subject = text;
        int[]? originalIndex = null;
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) (subject, originalIndex) = ReplaceSupplementary(text);

        int last = 0;
        foreach (var match in _regex.EnumerateMatches(subject))
        {
            if (match.Length == 0) continue;
            int start = originalIndex?[match.Index] ?? match.Index;
            int end = originalIndex?[match.Index + match.Length] ?? match.Index + match.Length;
            if (start > last) parts.Add(new SplitPart(last, start, false));
            parts.Add(new SplitPart(start, end, true));
            last = end;
        }
        if (last < text.Length) parts.Add(new SplitPart(last, text.Length, false));
        return parts;
    }

    /// <summary>The text with each surrogate pair replaced by a stand-in, and the original index of every position.</summary>
    private static (string Subject, int[] OriginalIndex) ReplaceSupplementary(string text)
    {
        var subject = new StringBuilder(text.Length);
        var originalIndex = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            originalIndex.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]));
                subject.Append(StandInByCategory[(int)category]);
                i++;
            }
            else subject.Append(text[i]);
        }
        originalIndex.Add(text.Length);
        return (subject.ToString(), originalIndex.ToArray());
    }

    /// <summary>For each Unicode category, the first non-ASCII BMP character of that category.</summary>
    private static char[] BuildStandIns()
    {
        var standIns = new char[32];
        Array.Fill(standIns, '\uE000');   // private use: not a letter, number or space
        var found = new bool[32];
        for (int c = 0x80; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (found[category]) continue;
            found[category] = true;
            standIns[category] = (char)c;
        }
        return standIns;
    }
}
