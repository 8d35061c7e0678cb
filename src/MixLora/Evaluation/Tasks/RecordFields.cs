using System.Globalization;
using System.Text.Json;

namespace MixLora.Evaluation;

/// <summary>
/// Typed access to the fields of one JSON record; every problem becomes a <see cref="RecordFormatException"/> naming
/// the field (with its parent's name for nested fields, e.g. "choices.label").
/// </summary>
internal readonly struct RecordFields
{
    private readonly JsonElement _element;
    private readonly string _prefix;

    public RecordFields(JsonElement element, string prefix = "")
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new RecordFormatException(prefix.Length == 0 ? null : prefix.TrimEnd('.'), $"expected a JSON object, got {Describe(element)}");
        _element = element;
        _prefix = prefix;
    }

    public bool Has(string name) => _element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Whether the field is a JSON number (so that "1" and 1 can mean different things).</summary>
    public bool IsNumber(string name) => _element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number;

    public string String(string name)
    {
        var value = Required(name);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Wrong(name, "a string", value);
    }

    /// <summary>A string field that may be absent or null (then null).</summary>
    public string? OptionalString(string name) => Has(name) ? String(name) : null;

    public bool Bool(string name)
    {
        var value = Required(name);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "true or false", value),
        };
    }

    /// <summary>
    /// An integer given as a JSON number or as a string of digits (the Hugging Face datasets store some labels as
    /// strings, e.g. SIQA's "1".."3").
    /// </summary>
    public int Integer(string name)
    {
        var value = Required(name);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)) return number;
        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number)) return number;
            throw new RecordFormatException(Name(name), text.Length == 0
                ? "is an empty string (an unlabelled record? the Hub's test splits of some tasks have no labels)"
                : $"\"{text}\" is not an integer");
        }
        throw Wrong(name, "an integer (number or string of digits)", value);
    }

    public IReadOnlyList<string> StringList(string name)
    {
        var value = Required(name);
        if (value.ValueKind != JsonValueKind.Array) throw Wrong(name, "a list of strings", value);
        var items = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw new RecordFormatException(Name(name), $"item {items.Count} must be a string, got {Describe(item)}");
            items.Add(item.GetString()!);
        }
        return items;
    }

    public RecordFields Object(string name) => new(Required(name), Name(name) + ".");

    private JsonElement Required(string name) =>
        _element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new RecordFormatException(Name(name), "missing");

    private string Name(string name) => _prefix + name;

    private RecordFormatException Wrong(string name, string expected, JsonElement value) =>
        new(Name(name), $"must be {expected}, got {Describe(value)}");

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => Config.JsonSource.Kind(value.ValueKind),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
