using System.Text;

namespace MixLora.Serving;

/// <summary>Python semantics of truth, equality, ordering, arithmetic, membership, iteration and length.</summary>
internal static class JinjaOps
{
    public static bool Truthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        JinjaList list => list.Count > 0,
        JinjaDict dict => dict.Count > 0,
        JinjaUndefined => false,
        _ => true,
    };

    private static bool IsNumber(object? value) => value is long or double or bool;

    private static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    private static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    private static bool IsInteger(object? value) => value is long or bool;

    public static bool ValuesEqual(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? ToLong(a) == ToLong(b) : ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (JinjaList x, JinjaList y) => x.IsTuple == y.IsTuple && x.Count == y.Count && x.Items.Zip(y.Items).All(p => ValuesEqual(p.First, p.Second)),
            (JinjaDict x, JinjaDict y) => x.Count == y.Count && x.Items.All(kv => y.TryGet(kv.Key, out var other) && ValuesEqual(kv.Value, other)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python's &lt; ordering: numbers, strings (by code point), lists and tuples (element by element).</summary>
    public static int Order(object? a, object? b, string op)
    {
        if (a is JinjaUndefined u) throw u.Fail();
        if (b is JinjaUndefined v) throw v.Fail();
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? ToLong(a).CompareTo(ToLong(b)) : ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y) return JinjaText.CompareCodePoints(x, y);
        if (a is JinjaList l && b is JinjaList r && l.IsTuple == r.IsTuple)
        {
            for (int i = 0; i < Math.Min(l.Count, r.Count); i++)
            {
                if (!ValuesEqual(l[i], r[i])) return Order(l[i], r[i], op);
            }
            return l.Count.CompareTo(r.Count);
        }
        throw JinjaError.Render($"'{op}' not supported between instances of '{JinjaValue.TypeName(a)}' and '{JinjaValue.TypeName(b)}'");
    }

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => ValuesEqual(a, b),
        "!=" => !ValuesEqual(a, b),
        "<" => Order(a, b, op) < 0,
        "<=" => Order(a, b, op) <= 0,
        ">" => Order(a, b, op) > 0,
        ">=" => Order(a, b, op) >= 0,
        "in" => Contains(b, a),
        "not in" => !Contains(b, a),
        _ => throw new InvalidOperationException(op),
    };

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case JinjaUndefined u: throw u.Fail();
            case string s:
                if (item is not string sub) throw JinjaError.Render($"'in <string>' requires string as left operand, not {JinjaValue.TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case JinjaList list: return list.Items.Any(x => ValuesEqual(x, item));
            case JinjaDict dict: return dict.TryGet(item, out _);
            default: throw JinjaError.Render($"argument of type '{JinjaValue.TypeName(container)}' is not iterable");
        }
    }

    /// <summary>The items a for loop visits: list items, dict keys, string characters; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        JinjaList list => list.Items,
        JinjaDict dict => dict.Keys.ToList(),
        string s => JinjaText.CodePoints(s),
        JinjaUndefined => [],
        _ => throw JinjaError.Render($"'{JinjaValue.TypeName(value)}' object is not iterable"),
    };

    public static long Length(object? value) => value switch
    {
        string s => JinjaText.CodePointCount(s),
        JinjaList list => list.Count,
        JinjaDict dict => dict.Count,
        JinjaUndefined => 0,
        _ => throw JinjaError.Render($"object of type '{JinjaValue.TypeName(value)}' has no len()"),
    };

    public static object? Negate(object? value) => value switch
    {
        long l => (object)checked(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        JinjaUndefined u => throw u.Fail(),
        _ => throw JinjaError.Render($"bad operand type for unary -: '{JinjaValue.TypeName(value)}'"),
    };

    public static object? Plus(object? value) => value switch
    {
        long or double => value,
        bool b => b ? 1L : 0L,
        JinjaUndefined u => throw u.Fail(),
        _ => throw JinjaError.Render($"bad operand type for unary +: '{JinjaValue.TypeName(value)}'"),
    };

    /// <summary>+ - * / // % ** and ~ (string concatenation of both operands' str()).</summary>
    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~") return JinjaText.Str(a) + JinjaText.Str(b);
        if (a is JinjaUndefined u) throw u.Fail();
        if (b is JinjaUndefined v) throw v.Fail();
        try
        {
            return op switch
            {
                "+" => Add(a, b),
                "-" => Arithmetic(op, a, b, (x, y) => checked(x - y), (x, y) => x - y),
                "*" => Multiply(a, b),
                "/" => Divide(a, b),
                "//" => Arithmetic(op, a, b, FloorDivide, (x, y) => y == 0 ? throw ZeroDivision() : Math.Floor(x / y)),
                "%" => Arithmetic(op, a, b, Modulo, FloatModulo),
                "**" => Power(a, b),
                _ => throw new InvalidOperationException(op),
            };
        }
        catch (OverflowException)
        {
            throw JinjaError.Render($"integer overflow in '{op}'");
        }
    }

    private static JinjaError Unsupported(string op, object? a, object? b) =>
        JinjaError.Render($"unsupported operand type(s) for {op}: '{JinjaValue.TypeName(a)}' and '{JinjaValue.TypeName(b)}'");

    private static JinjaError ZeroDivision(string message = "division by zero") => JinjaError.Render(message);

    private static object Arithmetic(string op, object? a, object? b, Func<long, long, long> onIntegers, Func<double, double, double> onFloats)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported(op, a, b);
        return IsInteger(a) && IsInteger(b) ? (object)onIntegers(ToLong(a), ToLong(b)) : onFloats(ToDouble(a), ToDouble(b));
    }

    private static object Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => x + y,
        (JinjaList x, JinjaList y) when x.IsTuple == y.IsTuple => new JinjaList([.. x.Items, .. y.Items], x.IsTuple),
        _ when IsNumber(a) && IsNumber(b) => Arithmetic("+", a, b, (x, y) => checked(x + y), (x, y) => x + y),
        _ => throw ((a is string) != (b is string)
            ? JinjaError.Render($"can only concatenate str (not \"{JinjaValue.TypeName(a is string ? b : a)}\") to str")
            : Unsupported("+", a, b)),
    };

    private static object Multiply(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return Arithmetic("*", a, b, (x, y) => checked(x * y), (x, y) => x * y);
        var (sequence, count) = IsInteger(a) ? (b, a) : (a, b);
        if (!IsInteger(count)) throw Unsupported("*", a, b);
        long n = Math.Max(0, ToLong(count));
        switch (sequence)
        {
            case string s:
                if (s.Length * n > 100_000_000) throw JinjaError.Render("string repetition is too large");
                return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
            case JinjaList list:
                if (list.Count * n > 10_000_000) throw JinjaError.Render("list repetition is too large");
                return new JinjaList(Enumerable.Repeat(list.Items, (int)n).SelectMany(x => x).ToList(), list.IsTuple);
            default:
                throw Unsupported("*", a, b);
        }
    }

    private static object Divide(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        double divisor = ToDouble(b);
        if (divisor == 0) throw ZeroDivision();
        return ToDouble(a) / divisor;
    }

    private static long FloorDivide(long x, long y)
    {
        if (y == 0) throw ZeroDivision("integer division or modulo by zero");
        long q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return q;
    }

    private static long Modulo(long x, long y)
    {
        if (y == 0) throw ZeroDivision("integer division or modulo by zero");
        long r = x % y;
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    private static double FloatModulo(double x, double y)
    {
        if (y == 0) throw ZeroDivision();
        double r = x % y;
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    private static object Power(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("**", a, b);
        if (IsInteger(a) && IsInteger(b) && ToLong(b) >= 0)
        {
            long result = 1, x = ToLong(a);
            for (long e = ToLong(b); e > 0; e >>= 1)
            {
                if ((e & 1) != 0) result = checked(result * x);
                if (e > 1) x = checked(x * x);
            }
            return result;
        }
        return Math.Pow(ToDouble(a), ToDouble(b));
    }
}
