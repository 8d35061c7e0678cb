using System.Globalization;
using System.Text;

namespace MixLora.Config;

/// <summary>
/// Formats JSON exactly as Python's <c>json.dump(obj, f, indent=4)</c> does, so files we write are byte-identical to
/// the reference's: one item per line with 4-space indentation, "," ending all but the last, ": " after keys, floats in
/// Python <c>repr</c> form (1.0, 0.05, 1e-05), non-ASCII escaped as \uXXXX, no trailing newline.
/// Values: null, bool, int, double, string, a list of strings, or a nested list of (key, value) entries.
/// </summary>
internal static class AdapterJsonFormatter
{
    public static string Format(IReadOnlyList<KeyValuePair<string, object?>> entries)
    {
        var text = new StringBuilder();
        WriteObject(text, entries, 0);
        return text.ToString();
    }

    private static void WriteObject(StringBuilder text, IReadOnlyList<KeyValuePair<string, object?>> entries, int depth)
    {
        if (entries.Count == 0)
        {
            text.Append("{}");
            return;
        }
        text.Append("{\n");
        for (int i = 0; i < entries.Count; i++)
        {
            Indent(text, depth + 1);
            WriteString(text, entries[i].Key);
            text.Append(": ");
            WriteValue(text, entries[i].Value, depth + 1);
            text.Append(i + 1 < entries.Count ? ",\n" : "\n");
        }
        Indent(text, depth);
        text.Append('}');
    }

    private static void WriteValue(StringBuilder text, object? value, int depth)
    {
        switch (value)
        {
            case null: text.Append("null"); break;
            case bool b: text.Append(b ? "true" : "false"); break;
            case int n: text.Append(n.ToString(CultureInfo.InvariantCulture)); break;
            case double d: text.Append(PythonFloat(d)); break;
            case string s: WriteString(text, s); break;
            case IReadOnlyList<KeyValuePair<string, object?>> nested: WriteObject(text, nested, depth); break;
            case IReadOnlyList<string> list: WriteList(text, list, depth); break;
            default: throw new ArgumentException($"cannot format a {value.GetType().Name} as adapter config JSON");
        }
    }

    private static void WriteList(StringBuilder text, IReadOnlyList<string> items, int depth)
    {
        if (items.Count == 0)
        {
            text.Append("[]");
            return;
        }
        text.Append("[\n");
        for (int i = 0; i < items.Count; i++)
        {
            Indent(text, depth + 1);
            WriteString(text, items[i]);
            text.Append(i + 1 < items.Count ? ",\n" : "\n");
        }
        Indent(text, depth);
        text.Append(']');
    }

    private static void Indent(StringBuilder text, int depth) => text.Append(' ', 4 * depth);

    /// <summary>Python's float repr: shortest round-trip digits, ".0" on integral values, exponent form below 1e-4 or from 1e16.</summary>
    internal static string PythonFloat(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsInfinity(value)) return value > 0 ? "Infinity" : "-Infinity";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        // .NET's "R" gives the same shortest round-trip digits as Python; only the layout differs ("1E-05" vs "1e-05").
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var parts = shortest.Split('E');
        int exponent = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 0;
        var mantissa = parts[0].Split('.');
        var digits = mantissa[0] + (mantissa.Length > 1 ? mantissa[1] : "");
        int point = mantissa[0].Length + exponent; // value = 0.DIGITS × 10^point
        while (digits.Length > 1 && digits[0] == '0') { digits = digits[1..]; point--; }
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";

        int decimalExponent = point - 1; // value = D.IGITS × 10^decimalExponent
        string body;
        if (decimalExponent >= -4 && decimalExponent < 16)
        {
            body = point <= 0 ? "0." + new string('0', -point) + digits
                : point >= digits.Length ? digits + new string('0', point - digits.Length) + ".0"
                : digits[..point] + "." + digits[point..];
        }
        else
        {
            var head = digits.Length > 1 ? digits[..1] + "." + digits[1..] : digits;
            body = $"{head}e{(decimalExponent < 0 ? "-" : "+")}{Math.Abs(decimalExponent):00}";
        }
        return value < 0 ? "-" + body : body;
    }

    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < ' ' || c > '~') text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }
}
