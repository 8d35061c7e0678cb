using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// Rewrites possessive quantifiers (X*+, X++, X?+, X{n,m}+), which Oniguruma and tiktoken-style patterns use but
/// .NET does not, into the equivalent atomic groups ((?&gt;X*), …). Everything else is copied unchanged.
/// </summary>
internal static class PossessiveQuantifiers
{
    public static string Rewrite(string pattern)
    {
        if (!pattern.Contains('+')) return pattern;
        var output = new StringBuilder(pattern.Length + 16);
        var groupStarts = new Stack<int>();
        int atomStart = -1;   // where in output the last complete atom begins, or -1 after '|', '(' or an anchor
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            int start = output.Length;
            switch (c)
            {
                case '\\':
                    int escapeEnd = EscapeEnd(pattern, i);
                    output.Append(pattern, i, escapeEnd - i);
                    i = escapeEnd;
                    atomStart = start;
                    continue;
                case '[':
                    int classEnd = ClassEnd(pattern, i);
                    output.Append(pattern, i, classEnd - i);
                    i = classEnd;
                    atomStart = start;
                    continue;
                case '(':
                    groupStarts.Push(start);
                    output.Append(c);
                    atomStart = -1;
                    break;
                case ')':
                    output.Append(c);
                    atomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    break;
                case '*' or '+' or '?' or '{' when atomStart >= 0 && QuantifierEnd(pattern, i) is int quantifierEnd and > 0:
                    output.Append(pattern, i, quantifierEnd - i);
                    i = quantifierEnd;
                    if (i < pattern.Length && pattern[i] == '+')
                    {
                        output.Insert(atomStart, "(?>").Append(')');
                        i++;
                    }
                    else if (i < pattern.Length && pattern[i] == '?')
                    {
                        output.Append('?');
                        i++;
                    }
                    continue;
                case '|' or '^' or '$':
                    output.Append(c);
                    atomStart = -1;
                    break;
                default:
                    output.Append(c);
                    atomStart = start;
                    break;
            }
            i++;
        }
        return output.ToString();
    }

    /// <summary>End (exclusive) of the quantifier at i, or -1 if '{' does not start a {n}, {n,} or {n,m}.</summary>
    private static int QuantifierEnd(string pattern, int i)
    {
        if (pattern[i] != '{') return i + 1;
        int close = pattern.IndexOf('}', i);
        if (close < 0) return -1;
        var body = pattern.AsSpan(i + 1, close - i - 1);
        foreach (char ch in body)
        {
            if (!char.IsAsciiDigit(ch) && ch != ',') return -1;
        }
        return body.Length > 0 && char.IsAsciiDigit(body[0]) ? close + 1 : -1;
    }

    private static int EscapeEnd(string pattern, int i)
    {
        if (i + 1 >= pattern.Length) return pattern.Length;
        char kind = pattern[i + 1];
        if ((kind is 'p' or 'P' or 'x') && i + 2 < pattern.Length && pattern[i + 2] == '{')
        {
            int close = pattern.IndexOf('}', i + 2);
            return close < 0 ? pattern.Length : close + 1;
        }
        int length = kind switch { 'u' => 6, 'x' => 4, 'p' or 'P' => 3, _ => 2 };
        return Math.Min(pattern.Length, i + length);
    }

    private static int ClassEnd(string pattern, int i)
    {
        int j = i + 1;
        if (j < pattern.Length && pattern[j] == '^') j++;
        if (j < pattern.Length && pattern[j] == ']') j++;   // a leading ']' is literal
        while (j < pattern.Length)
        {
            if (pattern[j] == '\\') { j = EscapeEnd(pattern, j); continue; }
            if (pattern[j] == '[') { j = ClassEnd(pattern, j); continue; }   // nested class (subtraction)
            if (pattern[j] == ']') return j + 1;
            j++;
        }
        return pattern.Length;
    }
}
