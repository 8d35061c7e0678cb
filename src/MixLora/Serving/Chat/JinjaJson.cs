using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it for chat templates: Python's
/// <c>json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c> (not Jinja's HTML-safe
/// variant). Separators default to ", " and ": ", or "," and ": " with an indent.
/// </summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, JinjaArgs args)
    {
        args.Accept("ensure_ascii", "indent", "separators", "sort_keys");
        bool ensureAscii = args.Bool(0, "ensure_ascii", false);
        var indentValue = args.Get(1, "indent", null);
        string? indent = indentValue switch
        {
            null => null,
            long n => new string(' ', (int)Math.Clamp(n, 0, 64)),
            string s => s,
            _ => throw JinjaError.Render($"tojson() indent must be an integer or a string, not {JinjaValue.TypeName(indentValue)}"),
        };
        string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
        var separators = args.Get(2, "separators", null);
        if (separators is JinjaList { Count: 2 } pair && pair[0] is string a && pair[1] is string b)
        {
            (itemSeparator, keySeparator) = (a, b);
        }
        else if (separators is not null)
        {
            throw JinjaError.Render("tojson() separators must be a pair of strings");
        }
        var writer = new Writer(ensureAscii, indent, itemSeparator, keySeparator, args.Bool(3, "sort_keys", false));
        writer.Write(value, 0);
        return writer.ToString();
    }

    private sealed class Writer(bool ensureAscii, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        private readonly StringBuilder _sb = new();

        public override string ToString() => _sb.ToString();

        public void Write(object? value, int depth)
        {
            if (depth > 200) throw JinjaError.Render("tojson: value is nested too deeply");
            switch (value)
            {
                case null: _sb.Append("null"); break;
                case bool b: _sb.Append(b ? "true" : "false"); break;
                case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: _sb.Append(Float(d)); break;
                case string s: WriteString(s); break;
                case JinjaList list: WriteContainer('[', ']', list.Items, depth, (item, level) => Write(item, level)); break;
                case JinjaDict dict:
                    var items = dict.Items.Select(kv => (Key: Key(kv.Key), kv.Value)).ToList();
                    if (sortKeys) items.Sort((x, y) => JinjaText.CompareCodePoints(x.Key, y.Key));
                    WriteContainer('{', '}', items, depth, (kv, level) =>
                    {
                        WriteString(kv.Key);
                        _sb.Append(keySeparator);
                        Write(kv.Value, level);
                    });
                    break;
                default:
                    throw JinjaError.Render($"Object of type {JinjaValue.TypeName(value)} is not JSON serializable");
            }
        }

        private void WriteContainer<T>(char open, char close, IReadOnlyList<T> items, int depth, Action<T, int> writeItem)
        {
            _sb.Append(open);
            if (items.Count == 0)
            {
                _sb.Append(close);
                return;
            }
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0) _sb.Append(itemSeparator);
                NewLine(depth + 1);
                writeItem(items[i], depth + 1);
            }
            NewLine(depth);
            _sb.Append(close);
        }

        private void NewLine(int depth)
        {
            if (indent is null) return;
            _sb.Append('\n');
            for (int i = 0; i < depth; i++) _sb.Append(indent);
        }

        private static string Float(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : JinjaText.FloatRepr(d);

        private static string Key(object? key) => key switch
        {
            string s => s,
            null => "null",
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => Float(d),
            _ => throw JinjaError.Render($"keys must be str, int, float, bool or None, not {JinjaValue.TypeName(key)}"),
        };

        private void WriteString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    case '\b': _sb.Append("\\b"); break;
                    case '\f': _sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else _sb.Append(c);
                        break;
                }
            }
            _sb.Append('"');
        }
    }
}
