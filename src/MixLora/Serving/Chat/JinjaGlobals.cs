using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>
/// Functions every chat template can call: Jinja's <c>range</c>, <c>namespace</c>, <c>dict</c>, and transformers'
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c>.
/// </summary>
internal static class JinjaGlobals
{
    /// <summary>As Jinja's sandbox: a range longer than this is an error.</summary>
    public const int MaxRange = 100_000;

    public static Dictionary<string, object?> Create(Func<DateTime> clock) => new(StringComparer.Ordinal)
    {
        ["range"] = new JinjaCallable("range", Range),
        ["namespace"] = new JinjaCallable("namespace", Namespace),
        ["dict"] = new JinjaCallable("dict", args =>
        {
            var dict = new JinjaDict();
            if (args.Positional.Count > 1) throw JinjaError.Render($"dict expected at most 1 argument, got {args.Positional.Count}");
            if (args.Positional.Count == 1) Merge(dict, args.Positional[0], "dict");
            foreach (var (key, value) in args.Named) dict.Set(key, value);
            return dict;
        }),
        ["raise_exception"] = new JinjaCallable("raise_exception", args =>
            throw new JinjaError(ChatTemplateErrorKind.Raised, JinjaText.Str(args.Accept("message").Required(0, "message")))),
        ["strftime_now"] = new JinjaCallable("strftime_now", args => Strftime(args.Accept("format").String(0, "format"), clock())),
    };

    private static object? Range(JinjaArgs args)
    {
        args.Accept("start", "stop", "step");
        long start = 0, stop, step = 1;
        if (args.Positional.Count == 0) throw JinjaError.Render("range expected at least 1 argument, got 0");
        if (args.Positional.Count == 1)
        {
            stop = args.Integer(0, "stop", 0);
        }
        else
        {
            start = args.Integer(0, "start", 0);
            stop = args.Integer(1, "stop", 0);
            step = args.Integer(2, "step", 1);
        }
        if (step == 0) throw JinjaError.Render("range() arg 3 must not be zero");
        var items = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (items.Count >= MaxRange) throw JinjaError.Render($"range too big (more than {MaxRange} items)");
            items.Add(i);
        }
        return new JinjaList(items);
    }

    private static object? Namespace(JinjaArgs args)
    {
        var ns = new JinjaNamespace();
        foreach (var positional in args.Positional)
        {
            var dict = new JinjaDict();
            Merge(dict, positional, "namespace");
            foreach (var kv in dict.Items) ns.Attributes[kv.Key as string ?? throw JinjaError.Render("namespace() keys must be strings")] = kv.Value;
        }
        foreach (var (key, value) in args.Named) ns.Attributes[key] = value;
        return ns;
    }

    private static void Merge(JinjaDict into, object? source, string function)
    {
        if (source is JinjaDict dict)
        {
            foreach (var kv in dict.Items) into.Set(kv.Key, kv.Value);
            return;
        }
        foreach (var pair in JinjaOps.Iterate(source))
        {
            if (pair is not JinjaList { Count: 2 } kv) throw JinjaError.Render($"{function}() needs a mapping or a sequence of pairs");
            into.Set(kv[0], kv[1]);
        }
    }

    private static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    private static readonly string[] Months =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    /// <summary>
    /// C's strftime in the C locale, as Python's <c>datetime.strftime</c> on Linux: %a %A %b %B %c %d %D %e %F %H %I
    /// %j %m %M %p %S %T %u %w %y %Y %Z %z %%, and glibc's "-" flag for no padding (%-d). Unknown directives are kept.
    /// </summary>
    public static string Strftime(string format, DateTime t)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            bool noPad = format[i + 1] == '-' && i + 2 < format.Length;
            char d = format[noPad ? i + 2 : i + 1];
            string? Pad(int value, int width) => noPad ? value.ToString(CultureInfo.InvariantCulture) : value.ToString(new string('0', width), CultureInfo.InvariantCulture);
            int hour12 = t.Hour % 12 == 0 ? 12 : t.Hour % 12;
            string? text = d switch
            {
                'a' => Days[(int)t.DayOfWeek][..3],
                'A' => Days[(int)t.DayOfWeek],
                'b' or 'h' => Months[t.Month - 1][..3],
                'B' => Months[t.Month - 1],
                'c' => $"{Days[(int)t.DayOfWeek][..3]} {Months[t.Month - 1][..3]} {t.Day,2} {t:HH:mm:ss} {t.Year}",
                'd' => Pad(t.Day, 2),
                'D' => t.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
                'e' => noPad ? t.Day.ToString(CultureInfo.InvariantCulture) : t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'F' => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                'H' => Pad(t.Hour, 2),
                'I' => Pad(hour12, 2),
                'j' => Pad(t.DayOfYear, 3),
                'm' => Pad(t.Month, 2),
                'M' => Pad(t.Minute, 2),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'S' => Pad(t.Second, 2),
                'T' => t.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                'u' => (t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'w' => ((int)t.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'y' => Pad(t.Year % 100, 2),
                'Y' => t.Year.ToString(CultureInfo.InvariantCulture),
                'Z' => t.Kind == DateTimeKind.Utc ? "UTC" : "",
                'z' => t.Kind == DateTimeKind.Utc ? "+0000" : "",
                '%' => "%",
                _ => null,
            };
            if (text is null)
            {
                sb.Append(format[i]);
                continue;
            }
            sb.Append(text);
            i += noPad ? 2 : 1;
        }
        return sb.ToString();
    }
}
