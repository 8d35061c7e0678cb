using System.Collections;
using System.Text.Json;

namespace MixLora.Serving;

// Template values are plain .NET objects with Python's meaning:
//   null = None, bool, long = int, double = float, string = str,
//   JinjaList = list or tuple, JinjaDict = dict, JinjaUndefined, JinjaNamespace, JinjaLoop, JinjaCallable.

/// <summary>
/// Jinja's default <c>Undefined</c>: a missing variable, attribute or item. It prints as "", is false, iterates as
/// empty and has length 0; any other use (attribute, item, call, arithmetic) raises an error with <see cref="Hint"/>.
/// </summary>
internal sealed class JinjaUndefined(string hint)
{
    public string Hint { get; } = hint;

    public JinjaError Fail() => JinjaError.Render(Hint);

    public static JinjaUndefined Missing(string name) => new($"'{name}' is undefined");

    public static JinjaUndefined NoAttribute(object? owner, string name) => new($"'{JinjaValue.TypeName(owner)} object' has no attribute '{name}'");

    public static JinjaUndefined NoItem(object? owner, object? key) =>
        key is string s ? NoAttribute(owner, s) : new($"'{JinjaValue.TypeName(owner)} object' has no element {JinjaText.Repr(key)}");
}

/// <summary>A Python list (or tuple when <see cref="IsTuple"/>). Templates never modify it.</summary>
internal sealed class JinjaList(IReadOnlyList<object?> items, bool isTuple = false) : IReadOnlyList<object?>
{
    public static JinjaList Empty { get; } = new([]);

    public IReadOnlyList<object?> Items { get; } = items;

    public bool IsTuple { get; } = isTuple;

    public int Count => Items.Count;

    public object? this[int index] => Items[index];

    public IEnumerator<object?> GetEnumerator() => Items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class JinjaDict
{
    private static readonly object NoneKey = new();
    private readonly OrderedDictionary<object, object?> _items = new(JinjaKeyComparer.Instance);

    public int Count => _items.Count;

    public IEnumerable<object?> Keys => _items.Keys.Select(k => ReferenceEquals(k, NoneKey) ? null : k);

    public IEnumerable<object?> Values => _items.Values;

    public IEnumerable<KeyValuePair<object?, object?>> Items =>
        _items.Select(kv => new KeyValuePair<object?, object?>(ReferenceEquals(kv.Key, NoneKey) ? null : kv.Key, kv.Value));

    public bool TryGet(object? key, out object? value)
    {
        value = null;
        return IsHashable(key) && _items.TryGetValue(key ?? NoneKey, out value);
    }

    public void Set(object? key, object? value)
    {
        if (!IsHashable(key)) throw JinjaError.Render($"unhashable type: '{JinjaValue.TypeName(key)}'");
        _items[key ?? NoneKey] = value;
    }

    private static bool IsHashable(object? key) => key switch
    {
        JinjaList list => list.IsTuple && list.Items.All(IsHashable),
        JinjaDict or JinjaNamespace or JinjaUndefined => false,
        _ => true,
    };
}

/// <summary>Python hashing and equality for dict keys.</summary>
internal sealed class JinjaKeyComparer : IEqualityComparer<object>
{
    public static JinjaKeyComparer Instance { get; } = new();

    public new bool Equals(object? x, object? y) => JinjaOps.ValuesEqual(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when double.IsInteger(d) && Math.Abs(d) < 9.2e18 => ((long)d).GetHashCode(),
        string s => string.GetHashCode(s, StringComparison.Ordinal),
        JinjaList list => list.Items.Aggregate(17, (h, item) => h * 31 + (item is null ? 0 : GetHashCode(item))),
        _ => obj.GetHashCode(),
    };
}

/// <summary><c>namespace(...)</c>: the one mutable object, so loops can carry state out (<c>{% set ns.x = … %}</c>).</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class JinjaLoop(IReadOnlyList<object?> items)
{
    private object? _lastChanged = JinjaUndefined.Missing("loop.changed");

    public IReadOnlyList<object?> Items { get; } = items;

    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
        "nextitem" => Index0 + 1 < Items.Count ? Items[Index0 + 1] : new JinjaUndefined("there is no next item"),
        "cycle" => new JinjaCallable("loop.cycle", args =>
        {
            if (args.Positional.Count == 0) throw JinjaError.Render("no items for cycling given");
            return args.Positional[Index0 % args.Positional.Count];
        }),
        "changed" => new JinjaCallable("loop.changed", args =>
        {
            var value = new JinjaList(args.Positional.ToList(), isTuple: true);
            if (JinjaOps.ValuesEqual(value, _lastChanged)) return false;
            _lastChanged = value;
            return true;
        }),
        _ => JinjaUndefined.NoAttribute(this, name),
    };
}

/// <summary>A function value: a global (<c>range</c>, <c>namespace</c>, …), a bound method (<c>s.strip</c>) or a macro.</summary>
internal sealed class JinjaCallable(string name, Func<JinjaArgs, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(JinjaArgs args) => invoke(args);
}

/// <summary>The arguments of a call, filter or test, with Python-style binding by position or name.</summary>
internal sealed class JinjaArgs(string function, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named)
{
    private static readonly IReadOnlyDictionary<string, object?> NoNames = new Dictionary<string, object?>();

    public static JinjaArgs Of(string function, params object?[] positional) => new(function, positional, NoNames);

    public string Function { get; } = function;

    public IReadOnlyList<object?> Positional { get; } = positional;

    public IReadOnlyDictionary<string, object?> Named { get; } = named;

    /// <summary>Fails on more positional arguments than <paramref name="names"/> or an unknown keyword.</summary>
    public JinjaArgs Accept(params string[] names)
    {
        if (Positional.Count > names.Length)
            throw JinjaError.Render($"{Function}() takes at most {names.Length} argument{(names.Length == 1 ? "" : "s")} ({Positional.Count} given)");
        foreach (var key in Named.Keys)
        {
            int at = Array.IndexOf(names, key);
            if (at < 0) throw JinjaError.Render($"{Function}() got an unexpected keyword argument '{key}'");
            if (at < Positional.Count) throw JinjaError.Render($"{Function}() got multiple values for argument '{key}'");
        }
        return this;
    }

    public bool Has(int index, string name) => index < Positional.Count || Named.ContainsKey(name);

    public object? Get(int index, string name, object? fallback) =>
        index < Positional.Count ? Positional[index] : Named.TryGetValue(name, out var value) ? value : fallback;

    public object? Required(int index, string name) =>
        Has(index, name) ? Get(index, name, null) : throw JinjaError.Render($"{Function}() missing required argument '{name}'");

    public string String(int index, string name, string? fallback = null)
    {
        var value = Has(index, name) ? Get(index, name, null) : fallback ?? throw JinjaError.Render($"{Function}() missing required argument '{name}'");
        return value as string ?? throw JinjaError.Render($"{Function}() argument '{name}' must be a string, not {JinjaValue.TypeName(value)}");
    }

    public long Integer(int index, string name, long fallback)
    {
        var value = Get(index, name, fallback);
        return value switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw JinjaError.Render($"{Function}() argument '{name}' must be an integer, not {JinjaValue.TypeName(value)}"),
        };
    }

    public bool Bool(int index, string name, bool fallback) => JinjaOps.Truthy(Get(index, name, fallback));
}

/// <summary>Conversions between .NET values and template values, and Python type names for messages.</summary>
internal static class JinjaValue
{
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        JinjaList { IsTuple: true } => "tuple",
        JinjaList => "list",
        JinjaDict => "dict",
        JinjaUndefined => "Undefined",
        JinjaNamespace => "Namespace",
        JinjaLoop => "LoopContext",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };

    /// <summary>
    /// A .NET value as a template value: strings, booleans, integers, floating point numbers, null, <see cref="ChatTurn"/>,
    /// dictionaries with string keys, sequences and <see cref="JsonElement"/>s.
    /// </summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        string or bool or long or double or JinjaList or JinjaDict or JinjaUndefined or JinjaNamespace or JinjaCallable => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        float f => (double)f,
        decimal m => (double)m,
        ChatTurn message => Dict([("role", message.Role), ("content", message.Content)]),
        JsonElement element => FromJson(element),
        IDictionary dictionary => FromDictionary(dictionary),
        IEnumerable sequence => new JinjaList(sequence.Cast<object?>().Select(FromClr).ToList()),
        _ => throw new ArgumentException($"a {value.GetType().Name} cannot be passed to a chat template (use strings, numbers, booleans, lists or dictionaries)"),
    };

    public static JinjaDict Dict(IEnumerable<(string Key, object? Value)> items)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in items) dict.Set(key, FromClr(value));
        return dict;
    }

    private static JinjaDict FromDictionary(IDictionary dictionary)
    {
        var dict = new JinjaDict();
        foreach (DictionaryEntry entry in dictionary) dict.Set(FromClr(entry.Key), FromClr(entry.Value));
        return dict;
    }

    public static object? FromJson(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String: return element.GetString();
            case JsonValueKind.Number: return element.TryGetInt64(out long l) ? (object)l : element.GetDouble();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Array: return new JinjaList(element.EnumerateArray().Select(FromJson).ToList());
            case JsonValueKind.Object:
                var dict = new JinjaDict();
                foreach (var property in element.EnumerateObject()) dict.Set(property.Name, FromJson(property.Value));
                return dict;
            default: return null;
        }
    }
}
