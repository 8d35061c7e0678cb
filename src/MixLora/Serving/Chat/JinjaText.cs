using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>Python's <c>str()</c> and <c>repr()</c> of template values, and code-point string helpers.</summary>
internal static class JinjaText
{
    /// <summary>What <c>{{ value }}</c> prints: Python's str(); undefined prints nothing.</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        JinjaUndefined => "",
        JinjaNamespace ns => "<Namespace " + Repr(ToDict(ns)) + ">",
        JinjaLoop loop => $"<LoopContext {loop.Index0 + 1}/{loop.Items.Count}>",
        JinjaCallable f => $"<function {f.Name}>",
        _ => Repr(value),
    };

    private static JinjaDict ToDict(JinjaNamespace ns)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in ns.Attributes) dict.Set(key, value);
        return dict;
    }

    public static string Repr(object? value)
    {
        switch (value)
        {
            case string s: return StringRepr(s);
            case JinjaUndefined: return "Undefined";
            case JinjaList list:
                var items = string.Join(", ", list.Items.Select(Repr));
                return list.IsTuple ? "(" + items + (list.Count == 1 ? ",)" : ")") : "[" + items + "]";
            case JinjaDict dict:
                return "{" + string.Join(", ", dict.Items.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}";
            default: return Str(value);
        }
    }

    /// <summary>Python's float repr: the shortest digits that round-trip, fixed notation for 1e-4 ≤ |x| &lt; 1e16.</summary>
    public static string FloatRepr(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        var r = value.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative) r = r[1..];
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot < 0 ? r : r[..dot] + r[(dot + 1)..];
        int point = (dot < 0 ? r.Length : dot) + exponent;
        int leading = 0;
        while (leading < digits.Length && digits[leading] == '0') leading++;
        digits = digits[leading..].TrimEnd('0');
        point -= leading;
        string sign = negative ? "-" : "";
        if (digits.Length == 0) return sign + "0.0";
        int sciExponent = point - 1;
        if (sciExponent is >= -4 and < 16)
        {
            if (point <= 0) return sign + "0." + new string('0', -point) + digits;
            if (point >= digits.Length) return sign + digits + new string('0', point - digits.Length) + ".0";
            return sign + digits[..point] + "." + digits[point..];
        }
        string mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        return sign + mantissa + "e" + (sciExponent < 0 ? "-" : "+") + Math.Abs(sciExponent).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ", escapes for unprintable characters.</summary>
    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(rune)) sb.Append(rune.ToString());
            else if (c < 0x100) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c < 0x10000) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
        }
        return sb.Append(quote).ToString();
    }

    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ') return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python's str.isspace() for one character (includes the \x1c–\x1f separators).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    private static bool HasSurrogates(string s)
    {
        foreach (char c in s)
        {
            if (char.IsSurrogate(c)) return true;
        }
        return false;
    }

    public static int CodePointCount(string s) => HasSurrogates(s) ? s.EnumerateRunes().Count() : s.Length;

    /// <summary>The characters of a string as one-character strings (Python iterates code points, not UTF-16 units).</summary>
    public static IReadOnlyList<object?> CodePoints(string s) =>
        HasSurrogates(s) ? s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList() : s.Select(c => (object?)c.ToString()).ToList();

    private static string[] Units(string s) =>
        HasSurrogates(s) ? s.EnumerateRunes().Select(r => r.ToString()).ToArray() : s.Select(c => c.ToString()).ToArray();

    public static string CharAt(string s, long index)
    {
        var units = Units(s);
        long i = index < 0 ? index + units.Length : index;
        return i >= 0 && i < units.Length ? units[i] : throw new ArgumentOutOfRangeException(nameof(index));
    }

    public static string Slice(string s, long? start, long? stop, long step)
    {
        var units = Units(s);
        var sb = new StringBuilder();
        foreach (int i in SliceIndices(units.Length, start, stop, step)) sb.Append(units[i]);
        return sb.ToString();
    }

    /// <summary>The indices Python's <c>seq[start:stop:step]</c> visits.</summary>
    public static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long step)
    {
        if (step == 0) throw JinjaError.Render("slice step cannot be zero");
        long Clamp(long? value, long fallback, long low, long high)
        {
            if (value is null) return fallback;
            long v = value.Value < 0 ? value.Value + length : value.Value;
            return Math.Clamp(v, low, high);
        }
        if (step > 0)
        {
            long from = Clamp(start, 0, 0, length), to = Clamp(stop, length, 0, length);
            for (long i = from; i < to; i += step) yield return (int)i;
        }
        else
        {
            long from = Clamp(start, length - 1, -1, length - 1), to = Clamp(stop, -1, -1, length - 1);
            for (long i = from; i > to; i += step) yield return (int)i;
        }
    }

    public static int CompareCodePoints(string a, string b)
    {
        if (!HasSurrogates(a) && !HasSurrogates(b)) return Math.Sign(string.CompareOrdinal(a, b));
        using var x = a.EnumerateRunes().GetEnumerator();
        using var y = b.EnumerateRunes().GetEnumerator();
        while (true)
        {
            bool hasX = x.MoveNext(), hasY = y.MoveNext();
            if (!hasX || !hasY) return hasX == hasY ? 0 : hasX ? 1 : -1;
            int c = x.Current.Value.CompareTo(y.Current.Value);
            if (c != 0) return c;
        }
    }
}
