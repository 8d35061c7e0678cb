using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>
/// The Python methods templates call on strings (strip, lstrip, rstrip, startswith, endswith, split, rsplit,
/// splitlines, replace, upper, lower, title, capitalize, find, rfind, count, join, removeprefix, removesuffix, is…)
/// and dicts (items, keys, values, get). None of them modify anything, as in Jinja's immutable sandbox.
/// </summary>
internal static class JinjaMethods
{
    public static JinjaCallable? DictMethod(JinjaDict dict, string name) => name switch
    {
        "items" => Bound("dict.items", args =>
        {
            args.Accept();
            return new JinjaList(dict.Items.Select(kv => (object?)new JinjaList([kv.Key, kv.Value], isTuple: true)).ToList());
        }),
        "keys" => Bound("dict.keys", args => { args.Accept(); return new JinjaList(dict.Keys.ToList()); }),
        "values" => Bound("dict.values", args => { args.Accept(); return new JinjaList(dict.Values.ToList()); }),
        "get" => Bound("dict.get", args =>
        {
            args.Accept("key", "default");
            return dict.TryGet(args.Required(0, "key"), out var value) ? value : args.Get(1, "default", null);
        }),
        _ => null,
    };

    private static JinjaCallable Bound(string name, Func<JinjaArgs, object?> body) => new(name, body);

    public static JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => Bound("str.strip", args => Strip(s, Chars(args), left: true, right: true)),
        "lstrip" => Bound("str.lstrip", args => Strip(s, Chars(args), left: true, right: false)),
        "rstrip" => Bound("str.rstrip", args => Strip(s, Chars(args), left: false, right: true)),
        "startswith" => Bound("str.startswith", args => Affix(s, args, start: true)),
        "endswith" => Bound("str.endswith", args => Affix(s, args, start: false)),
        "split" => Bound("str.split", args => Split(s, args, fromRight: false)),
        "rsplit" => Bound("str.rsplit", args => Split(s, args, fromRight: true)),
        "splitlines" => Bound("str.splitlines", args =>
        {
            args.Accept("keepends");
            return SplitLines(s, args.Bool(0, "keepends", false));
        }),
        "replace" => Bound("str.replace", args =>
        {
            args.Accept("old", "new", "count");
            return Replace(s, args.String(0, "old"), args.String(1, "new"), args.Integer(2, "count", -1));
        }),
        "upper" => Bound("str.upper", args => { args.Accept(); return s.ToUpperInvariant(); }),
        "lower" => Bound("str.lower", args => { args.Accept(); return s.ToLowerInvariant(); }),
        "title" => Bound("str.title", args => { args.Accept(); return Title(s); }),
        "capitalize" => Bound("str.capitalize", args => { args.Accept(); return Capitalize(s); }),
        "find" => Bound("str.find", args => { args.Accept("sub"); return (long)IndexOf(s, args.String(0, "sub"), last: false); }),
        "rfind" => Bound("str.rfind", args => { args.Accept("sub"); return (long)IndexOf(s, args.String(0, "sub"), last: true); }),
        "count" => Bound("str.count", args => { args.Accept("sub"); return Count(s, args.String(0, "sub")); }),
        "join" => Bound("str.join", args =>
        {
            args.Accept("iterable");
            return string.Join(s, JinjaOps.Iterate(args.Required(0, "iterable")).Select(item =>
                item as string ?? throw JinjaError.Render($"sequence item: expected str instance, {JinjaValue.TypeName(item)} found")));
        }),
        "removeprefix" => Bound("str.removeprefix", args =>
        {
            args.Accept("prefix");
            var prefix = args.String(0, "prefix");
            return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
        }),
        "removesuffix" => Bound("str.removesuffix", args =>
        {
            args.Accept("suffix");
            var suffix = args.String(0, "suffix");
            return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
        }),
        "isdigit" => Bound("str.isdigit", args => { args.Accept(); return s.Length > 0 && s.All(char.IsDigit); }),
        "isalpha" => Bound("str.isalpha", args => { args.Accept(); return s.Length > 0 && s.All(char.IsLetter); }),
        "isalnum" => Bound("str.isalnum", args => { args.Accept(); return s.Length > 0 && s.All(char.IsLetterOrDigit); }),
        "isspace" => Bound("str.isspace", args => { args.Accept(); return s.Length > 0 && s.All(JinjaText.IsSpace); }),
        "isupper" => Bound("str.isupper", args => { args.Accept(); return s.Any(char.IsLetter) && !s.Any(char.IsLower); }),
        "islower" => Bound("str.islower", args => { args.Accept(); return s.Any(char.IsLetter) && !s.Any(char.IsUpper); }),
        _ => null,
    };

    private static string? Chars(JinjaArgs args)
    {
        args.Accept("chars");
        var chars = args.Get(0, "chars", null);
        return chars switch
        {
            null => null,
            string c => c,
            _ => throw JinjaError.Render($"{args.Function}() argument must be str or None, not {JinjaValue.TypeName(chars)}"),
        };
    }

    /// <summary>Python's strip family: whitespace (str.isspace) when <paramref name="chars"/> is null, else any of those characters.</summary>
    public static string Strip(string s, string? chars, bool left, bool right)
    {
        bool Strips(char c) => chars is null ? JinjaText.IsSpace(c) : chars.Contains(c);
        int start = 0, end = s.Length;
        if (left) while (start < end && Strips(s[start])) start++;
        if (right) while (end > start && Strips(s[end - 1])) end--;
        return s[start..end];
    }

    private static bool Affix(string s, JinjaArgs args, bool start)
    {
        args.Accept(start ? "prefix" : "suffix", "start", "end");
        var affix = args.Required(0, start ? "prefix" : "suffix");
        long from = args.Integer(1, "start", 0), to = args.Integer(2, "end", long.MaxValue);
        var window = args.Has(1, "start") || args.Has(2, "end") ? JinjaText.Slice(s, from, args.Has(2, "end") ? to : null, 1) : s;
        IEnumerable<object?> options = affix is JinjaList { IsTuple: true } tuple ? tuple.Items : [affix];
        foreach (var option in options)
        {
            if (option is not string text)
                throw JinjaError.Render($"{args.Function}() argument must be str or a tuple of str, not {JinjaValue.TypeName(option)}");
            if (start ? window.StartsWith(text, StringComparison.Ordinal) : window.EndsWith(text, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private static JinjaList Split(string s, JinjaArgs args, bool fromRight)
    {
        args.Accept("sep", "maxsplit");
        var sepValue = args.Get(0, "sep", null);
        long maxSplit = args.Integer(1, "maxsplit", -1);
        if (sepValue is not null and not string) throw JinjaError.Render($"{args.Function}() separator must be str or None, not {JinjaValue.TypeName(sepValue)}");
        var sep = (string?)sepValue;
        if (sep is "") throw JinjaError.Render("empty separator");
        var parts = sep is null ? SplitWhitespace(s, maxSplit, fromRight) : SplitOn(s, sep, maxSplit, fromRight);
        return new JinjaList(parts.Select(p => (object?)p).ToList());
    }

    private static List<string> SplitOn(string s, string sep, long maxSplit, bool fromRight)
    {
        var parts = new List<string>();
        if (!fromRight)
        {
            int start = 0;
            while (maxSplit < 0 || parts.Count < maxSplit)
            {
                int at = s.IndexOf(sep, start, StringComparison.Ordinal);
                if (at < 0) break;
                parts.Add(s[start..at]);
                start = at + sep.Length;
            }
            parts.Add(s[start..]);
            return parts;
        }
        int end = s.Length;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
            if (at < 0 || at + sep.Length > end) break;
            parts.Add(s[(at + sep.Length)..end]);
            end = at;
        }
        parts.Add(s[..end]);
        parts.Reverse();
        return parts;
    }

    private static List<string> SplitWhitespace(string s, long maxSplit, bool fromRight)
    {
        var parts = new List<string>();
        if (!fromRight)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && JinjaText.IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }
                int start = i;
                while (i < s.Length && !JinjaText.IsSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        int j = s.Length;
        while (true)
        {
            while (j > 0 && JinjaText.IsSpace(s[j - 1])) j--;
            if (j <= 0) break;
            if (maxSplit >= 0 && parts.Count >= maxSplit)
            {
                parts.Add(s[..j]);
                break;
            }
            int end = j;
            while (j > 0 && !JinjaText.IsSpace(s[j - 1])) j--;
            parts.Add(s[j..end]);
        }
        parts.Reverse();
        return parts;
    }

    private static JinjaList SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            int end = i;
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            lines.Add(keepEnds ? s[start..(i + 1)] : s[start..end]);
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return new JinjaList(lines);
    }

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertBetweenAll(s, replacement, long.MaxValue) : s.Replace(old, replacement, StringComparison.Ordinal);
        if (old.Length == 0) return InsertBetweenAll(s, replacement, count);
        var sb = new StringBuilder();
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, start, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, start, at - start).Append(replacement);
            start = at + old.Length;
        }
        return sb.Append(s, start, s.Length - start).ToString();
    }

    /// <summary>Python's <c>"ab".replace("", "-")</c> = "-a-b-".</summary>
    private static string InsertBetweenAll(string s, string insert, long count)
    {
        var sb = new StringBuilder();
        long n = 0;
        foreach (var unit in JinjaText.CodePoints(s))
        {
            if (n++ < count) sb.Append(insert);
            sb.Append((string)unit!);
        }
        if (n++ < count) sb.Append(insert);
        return sb.ToString();
    }

    private static int IndexOf(string s, string sub, bool last)
    {
        int at = last ? s.LastIndexOf(sub, StringComparison.Ordinal) : s.IndexOf(sub, StringComparison.Ordinal);
        if (at <= 0) return at;
        return JinjaText.CodePointCount(s[..at]);
    }

    private static long Count(string s, string sub)
    {
        if (sub.Length == 0) return JinjaText.CodePointCount(s) + 1;
        long n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's str.title(): upper case after a non-letter, lower case after a letter.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousIsLetter = false;
        foreach (char c in s)
        {
            sb.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]).ToString(CultureInfo.InvariantCulture) + s[1..].ToLowerInvariant();
}
