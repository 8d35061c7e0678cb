using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>
/// The filters (<c>value | name(args)</c>) of the supported subset: Jinja's builtins that chat templates use
/// (trim, length/count, string, lower, upper, title, capitalize, replace, first, last, join, default/d, safe, list,
/// items, dictsort, sort, unique, reverse, map, select, reject, selectattr, rejectattr, min, max, sum, abs, int,
/// float, round, indent, center, wordcount, attr, escape/e) and transformers' <c>tojson</c>.
/// </summary>
internal static class JinjaFilters
{
    private delegate object? Filter(object? value, JinjaArgs args);

    private static readonly Dictionary<string, Filter> All = new(StringComparer.Ordinal)
    {
        ["abs"] = (v, a) => { a.Accept(); return v switch { long l => (object)checked(Math.Abs(l)), double d => Math.Abs(d), bool b => b ? 1L : 0L, _ => throw Bad("abs", v) }; },
        ["attr"] = (v, a) =>
        {
            a.Accept("name");
            string name = a.String(0, "name");
            return v is JinjaDict dict ? (object?)JinjaMethods.DictMethod(dict, name) ?? JinjaUndefined.NoAttribute(dict, name) : JinjaAccess.Attribute(v, name);
        },
        ["capitalize"] = (v, a) => { a.Accept(); return JinjaMethods.Capitalize(JinjaText.Str(v)); },
        ["center"] = (v, a) =>
        {
            a.Accept("width");
            string s = JinjaText.Str(v);
            int width = (int)Math.Min(a.Integer(0, "width", 80), 100_000);
            if (width <= s.Length) return s;
            int total = width - s.Length, left = total / 2 + (total & width & 1);
            return new string(' ', left) + s + new string(' ', total - left);
        },
        ["count"] = (v, a) => { a.Accept(); return JinjaOps.Length(v); },
        ["length"] = (v, a) => { a.Accept(); return JinjaOps.Length(v); },
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["escape"] = (v, a) => { a.Accept(); return Escape(JinjaText.Str(v)); },
        ["e"] = (v, a) => { a.Accept(); return Escape(JinjaText.Str(v)); },
        ["first"] = (v, a) =>
        {
            a.Accept();
            var items = JinjaOps.Iterate(v);
            return items.Count > 0 ? items[0] : new JinjaUndefined("No first item, sequence was empty.");
        },
        ["last"] = (v, a) =>
        {
            a.Accept();
            var items = JinjaOps.Iterate(v);
            return items.Count > 0 ? items[^1] : new JinjaUndefined("No last item, sequence was empty.");
        },
        ["float"] = (v, a) => { a.Accept("default"); return ToFloat(v) ?? a.Get(0, "default", 0.0); },
        ["int"] = (v, a) => { a.Accept("default", "base"); return ToInt(v, a.Integer(1, "base", 10)) ?? a.Get(0, "default", 0L); },
        ["indent"] = Indent,
        ["items"] = (v, a) =>
        {
            a.Accept();
            return v switch
            {
                JinjaUndefined => JinjaList.Empty,
                JinjaDict dict => new JinjaList(dict.Items.Select(kv => (object?)new JinjaList([kv.Key, kv.Value], isTuple: true)).ToList()),
                _ => throw JinjaError.Render($"items filter: can only get item pairs from a mapping, not {JinjaValue.TypeName(v)}"),
            };
        },
        ["join"] = (v, a) =>
        {
            a.Accept("d", "attribute");
            string separator = JinjaText.Str(a.Get(0, "d", ""));
            var items = JinjaOps.Iterate(v);
            if (a.Has(1, "attribute")) items = items.Select(Getter(a.Get(1, "attribute", null))).ToList();
            return string.Join(separator, items.Select(JinjaText.Str));
        },
        ["list"] = (v, a) => { a.Accept(); return new JinjaList(JinjaOps.Iterate(v).ToList()); },
        ["lower"] = (v, a) => { a.Accept(); return JinjaText.Str(v).ToLowerInvariant(); },
        ["upper"] = (v, a) => { a.Accept(); return JinjaText.Str(v).ToUpperInvariant(); },
        ["title"] = (v, a) => { a.Accept(); return Title(JinjaText.Str(v)); },
        ["map"] = Map,
        ["max"] = (v, a) => MinMax(v, a, max: true),
        ["min"] = (v, a) => MinMax(v, a, max: false),
        ["reject"] = (v, a) => Select(v, a, byAttribute: false, keep: false),
        ["rejectattr"] = (v, a) => Select(v, a, byAttribute: true, keep: false),
        ["select"] = (v, a) => Select(v, a, byAttribute: false, keep: true),
        ["selectattr"] = (v, a) => Select(v, a, byAttribute: true, keep: true),
        ["replace"] = (v, a) =>
        {
            a.Accept("old", "new", "count");
            var count = a.Get(2, "count", null);
            return JinjaMethods.Replace(JinjaText.Str(v), JinjaText.Str(a.Required(0, "old")), JinjaText.Str(a.Required(1, "new")), count is null ? -1 : a.Integer(2, "count", -1));
        },
        ["reverse"] = (v, a) =>
        {
            a.Accept();
            return v is string s ? string.Concat(JinjaText.CodePoints(s).Reverse()) : new JinjaList(JinjaOps.Iterate(v).Reverse().ToList());
        },
        ["round"] = Round,
        ["safe"] = (v, a) => { a.Accept(); return v; },
        ["sort"] = Sort,
        ["string"] = (v, a) => { a.Accept(); return JinjaText.Str(v); },
        ["sum"] = (v, a) =>
        {
            a.Accept("attribute", "start");
            var items = JinjaOps.Iterate(v);
            if (a.Has(0, "attribute")) items = items.Select(Getter(a.Get(0, "attribute", null))).ToList();
            return items.Aggregate(a.Get(1, "start", 0L), (total, item) => JinjaOps.Binary("+", total, item));
        },
        ["tojson"] = (v, a) => JinjaJson.Dumps(v, a),
        ["trim"] = (v, a) =>
        {
            a.Accept("chars");
            var chars = a.Get(0, "chars", null);
            return JinjaMethods.Strip(JinjaText.Str(v), chars is null ? null : JinjaText.Str(chars), left: true, right: true);
        },
        ["unique"] = Unique,
        ["wordcount"] = (v, a) =>
        {
            a.Accept();
            return (long)JinjaText.Str(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        },
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static object? Apply(string name, object? value, JinjaArgs args) =>
        All.TryGetValue(name, out var filter) ? filter(value, args) : throw JinjaError.Render($"no filter named '{name}'");

    private static JinjaError Bad(string filter, object? value) =>
        value is JinjaUndefined u ? u.Fail() : JinjaError.Render($"{filter} filter: unsupported value of type {JinjaValue.TypeName(value)}");

    private static object? Default(object? value, JinjaArgs args)
    {
        args.Accept("default_value", "boolean");
        var fallback = args.Get(0, "default_value", "");
        bool boolean = args.Bool(1, "boolean", false);
        return value is JinjaUndefined || (boolean && !JinjaOps.Truthy(value)) ? fallback : value;
    }

    /// <summary>Jinja's title filter (not str.title): words start after "-", whitespace, "(", "{", "[" or "&lt;"; the rest is lower case.</summary>
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = c is '-' or '(' or '{' or '[' or '<' || JinjaText.IsSpace(c);
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return sb.ToString();
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static double? ToFloat(object? value) => value switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => null,
    };

    private static long? ToInt(object? value, long radix)
    {
        switch (value)
        {
            case long l: return l;
            case bool b: return b ? 1 : 0;
            case double d when double.IsFinite(d) && Math.Abs(d) < 9.2e18: return (long)Math.Truncate(d);
            case string s:
                s = s.Trim().Replace("_", "");
                if (radix == 10)
                {
                    if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) return n;
                    return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) && Math.Abs(f) < 9.2e18
                        ? (long)Math.Truncate(f) : null;
                }
                try
                {
                    return radix is 2 or 8 or 16 ? Convert.ToInt64(s.Length > 2 && s[0] == '0' && char.IsLetter(s[1]) ? s[2..] : s, (int)radix) : null;
                }
                catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
                {
                    return null;
                }
            default: return null;
        }
    }

    private static object? Indent(object? value, JinjaArgs args)
    {
        args.Accept("width", "first", "blank");
        var widthValue = args.Get(0, "width", 4L);
        string indent = widthValue is string w ? w : new string(' ', (int)Math.Clamp(args.Integer(0, "width", 4), 0, 1000));
        bool first = args.Bool(1, "first", false), blank = args.Bool(2, "blank", false);
        string s = JinjaText.Str(value) + "\n";
        var lines = s.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length - 1; i++)
        {
            if (i > 0) sb.Append('\n');
            bool indentThis = i == 0 ? first : blank || lines[i].Length > 0;
            if (indentThis) sb.Append(indent);
            sb.Append(lines[i]);
        }
        return sb.ToString();
    }

    private static object? Round(object? value, JinjaArgs args)
    {
        args.Accept("precision", "method");
        long precision = args.Integer(0, "precision", 0);
        string method = args.String(1, "method", "common");
        double x = ToFloat(value) ?? throw Bad("round", value);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, (int)Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw JinjaError.Render("round() method must be 'common', 'ceil' or 'floor'"),
        };
    }

    /// <summary>An attribute getter like Jinja's make_attrgetter: "a.b.0" looks up items a, then b, then index 0.</summary>
    private static Func<object?, object?> Getter(object? attribute, object? fallback = null, bool hasFallback = false)
    {
        var parts = attribute switch
        {
            string s => s.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? (object)n : p).ToArray(),
            long n => [n],
            _ => throw JinjaError.Render($"attribute must be a string or an integer, not {JinjaValue.TypeName(attribute)}"),
        };
        return item =>
        {
            foreach (var part in parts)
            {
                item = JinjaAccess.Item(item, part);
                if (item is JinjaUndefined && hasFallback) return fallback;
            }
            return item;
        };
    }

    private static Func<object?, object?> Lowered(bool caseSensitive) =>
        caseSensitive ? (x => x) : (x => x is string s ? s.ToLowerInvariant() : x);

    private static object? Map(object? value, JinjaArgs args)
    {
        var items = JinjaOps.Iterate(value);
        if (args.Positional.Count == 0 && args.Named.ContainsKey("attribute"))
        {
            args.Accept("attribute", "default");
            var getter = Getter(args.Named["attribute"], args.Get(1, "default", null), args.Named.ContainsKey("default"));
            return new JinjaList(items.Select(getter).ToList());
        }
        if (args.Positional.Count == 0 || args.Positional[0] is not string filter) throw JinjaError.Render("map() needs a filter name or attribute=");
        var rest = new JinjaArgs(filter, args.Positional.Skip(1).ToList(), args.Named);
        return new JinjaList(items.Select(item => Apply(filter, item, rest)).ToList());
    }

    private static object? Select(object? value, JinjaArgs args, bool byAttribute, bool keep)
    {
        var items = JinjaOps.Iterate(value);
        int offset = 0;
        Func<object?, object?> getter = x => x;
        if (byAttribute)
        {
            if (args.Positional.Count == 0) throw JinjaError.Render($"{args.Function}() missing required argument 'attribute'");
            getter = Getter(args.Positional[0]);
            offset = 1;
        }
        Func<object?, bool> test = JinjaOps.Truthy;
        if (args.Positional.Count > offset)
        {
            if (args.Positional[offset] is not string testName) throw JinjaError.Render($"{args.Function}() test name must be a string");
            if (!JinjaTestFunctions.Exists(testName)) throw JinjaError.Render($"no test named '{testName}'");
            var testArgs = new JinjaArgs(testName, args.Positional.Skip(offset + 1).ToList(), args.Named);
            test = x => JinjaTestFunctions.Apply(testName, x, testArgs);
        }
        return new JinjaList(items.Where(item => test(getter(item)) == keep).ToList());
    }

    private static object? Sort(object? value, JinjaArgs args)
    {
        args.Accept("reverse", "case_sensitive", "attribute");
        bool reverse = args.Bool(0, "reverse", false);
        var key = Lowered(args.Bool(1, "case_sensitive", false));
        var getter = args.Has(2, "attribute") ? Getter(args.Get(2, "attribute", null)) : (x => x);
        var items = JinjaOps.Iterate(value).ToList();
        var sorted = items.Select((item, index) => (item, index, key: key(getter(item)))).ToList();
        // Stable, as Python's sorted().
        sorted.Sort((x, y) =>
        {
            int c = JinjaOps.Order(x.key, y.key, "<");
            if (reverse) c = -c;
            return c != 0 ? c : x.index.CompareTo(y.index);
        });
        return new JinjaList(sorted.Select(s => s.item).ToList());
    }

    private static object? DictSort(object? value, JinjaArgs args)
    {
        args.Accept("case_sensitive", "by", "reverse");
        if (value is not JinjaDict dict) throw Bad("dictsort", value);
        var key = Lowered(args.Bool(0, "case_sensitive", false));
        string by = args.String(1, "by", "key");
        if (by is not ("key" or "value")) throw JinjaError.Render("dictsort() by must be 'key' or 'value'");
        bool reverse = args.Bool(2, "reverse", false);
        var pairs = dict.Items.ToList();
        var sorted = pairs.Select((kv, index) => (kv, index)).ToList();
        sorted.Sort((x, y) =>
        {
            int c = JinjaOps.Order(key(by == "key" ? x.kv.Key : x.kv.Value), key(by == "key" ? y.kv.Key : y.kv.Value), "<");
            if (reverse) c = -c;
            return c != 0 ? c : x.index.CompareTo(y.index);
        });
        return new JinjaList(sorted.Select(s => (object?)new JinjaList([s.kv.Key, s.kv.Value], isTuple: true)).ToList());
    }

    private static object? Unique(object? value, JinjaArgs args)
    {
        args.Accept("case_sensitive", "attribute");
        var key = Lowered(args.Bool(0, "case_sensitive", false));
        var getter = args.Has(1, "attribute") ? Getter(args.Get(1, "attribute", null)) : (x => x);
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in JinjaOps.Iterate(value))
        {
            var k = key(getter(item));
            if (seen.Any(s => JinjaOps.ValuesEqual(s, k))) continue;
            seen.Add(k);
            result.Add(item);
        }
        return new JinjaList(result);
    }

    private static object? MinMax(object? value, JinjaArgs args, bool max)
    {
        args.Accept("case_sensitive", "attribute");
        var key = Lowered(args.Bool(0, "case_sensitive", false));
        var getter = args.Has(1, "attribute") ? Getter(args.Get(1, "attribute", null)) : (x => x);
        var items = JinjaOps.Iterate(value);
        if (items.Count == 0) return new JinjaUndefined($"No aggregated item, sequence was empty.");
        var best = items[0];
        foreach (var item in items.Skip(1))
        {
            int c = JinjaOps.Order(key(getter(item)), key(getter(best)), max ? ">" : "<");
            if (max ? c > 0 : c < 0) best = item;
        }
        return best;
    }
}
