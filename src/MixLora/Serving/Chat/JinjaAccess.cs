namespace MixLora.Serving;

/// <summary>
/// Attribute and item access as in Jinja's sandbox: <c>x.name</c> tries a method or attribute first, then the item
/// <c>x['name']</c>; <c>x[key]</c> tries the item first, then the attribute. Whatever is missing is undefined
/// (never an error), except on an undefined value itself.
/// </summary>
internal static class JinjaAccess
{
    public static object? Attribute(object? target, string name)
    {
        switch (target)
        {
            case JinjaUndefined u: throw u.Fail();
            case JinjaDict dict:
                return (object?)JinjaMethods.DictMethod(dict, name) ?? (dict.TryGet(name, out var value) ? value : JinjaUndefined.NoAttribute(dict, name));
            case string s:
                return (object?)JinjaMethods.StringMethod(s, name) ?? JinjaUndefined.NoAttribute(s, name);
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : JinjaUndefined.NoAttribute(ns, name);
            case JinjaLoop loop:
                return loop.Attribute(name);
            default:
                return JinjaUndefined.NoAttribute(target, name);
        }
    }

    public static object? Item(object? target, object? key)
    {
        switch (target)
        {
            case JinjaUndefined u: throw u.Fail();
            case JinjaDict dict:
                if (dict.TryGet(key, out var value)) return value;
                break;
            case JinjaList list when key is long or bool:
                long index = key is bool b ? (b ? 1 : 0) : (long)key;
                if (index < 0) index += list.Count;
                if (index >= 0 && index < list.Count) return list[(int)index];
                return JinjaUndefined.NoItem(list, key);
            case string s when key is long or bool:
                try
                {
                    return JinjaText.CharAt(s, key is bool c ? (c ? 1 : 0) : (long)key);
                }
                catch (ArgumentOutOfRangeException)
                {
                    return JinjaUndefined.NoItem(s, key);
                }
        }
        if (key is string name && target is not JinjaDict) return Attribute(target, name);
        if (key is string dictKey && target is JinjaDict d)
            return (object?)JinjaMethods.DictMethod(d, dictKey) ?? JinjaUndefined.NoAttribute(d, dictKey);
        return JinjaUndefined.NoItem(target, key);
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long? Bound(object? value, string what) => value switch
        {
            null or JinjaUndefined => null,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw JinjaError.Render($"slice {what} must be an integer or None, not {JinjaValue.TypeName(value)}"),
        };
        long? from = Bound(start, "start"), to = Bound(stop, "stop");
        long by = Bound(step, "step") ?? 1;
        return target switch
        {
            JinjaUndefined u => throw u.Fail(),
            string s => JinjaText.Slice(s, from, to, by),
            JinjaList list => new JinjaList(JinjaText.SliceIndices(list.Count, from, to, by).Select(i => list[i]).ToList(), list.IsTuple),
            _ => JinjaUndefined.NoItem(target, "slice"),
        };
    }

    public static object? Call(object? target, JinjaArgs args) => target switch
    {
        JinjaCallable f => f.Invoke(args),
        JinjaUndefined u => throw u.Fail(),
        _ => throw JinjaError.Render($"'{JinjaValue.TypeName(target)}' object is not callable"),
    };
}
