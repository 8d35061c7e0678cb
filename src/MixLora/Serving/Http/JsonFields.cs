using System.Text.Json;
using MixLora.Config;

namespace MixLora.Serving.Http;

/// <summary>
/// Typed reads of a request object's fields. A missing field and an explicit JSON null both mean "not given"; a value
/// of the wrong kind is a 400 error naming the field (<paramref name="path"/> is its name in messages and <c>param</c>).
/// </summary>
internal readonly struct JsonFields(JsonElement element, string path = "")
{
    public JsonElement Element => element;

    private string Name(string field) => path.Length == 0 ? field : $"{path}.{field}";

    public bool TryGet(string field, out JsonElement value)
    {
        if (element.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public static ApiException WrongKind(string name, string expected, JsonElement value) =>
        ApiException.BadRequest($"{name} must be {expected}, got {JsonSource.Kind(value.ValueKind)}", name);

    public string? String(string field)
    {
        if (!TryGet(field, out var value)) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw WrongKind(Name(field), "a string", value);
    }

    public bool? Bool(string field)
    {
        if (!TryGet(field, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongKind(Name(field), "true or false", value),
        };
    }

    public double? Number(string field)
    {
        if (!TryGet(field, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number) throw WrongKind(Name(field), "a number", value);
        return value.GetDouble();
    }

    /// <summary>An integral number (2 and 2.0 are, 2.5 is not) within the range of a long.</summary>
    public long? Integer(string field)
    {
        if (!TryGet(field, out var value)) return null;
        return AsInteger(value, Name(field));
    }

    public static long AsInteger(JsonElement value, string name)
    {
        if (value.ValueKind != JsonValueKind.Number) throw WrongKind(name, "an integer", value);
        if (value.TryGetInt64(out long integer)) return integer;
        double number = value.GetDouble();
        if (Math.Floor(number) == number && Math.Abs(number) < 9e18) return (long)number;
        throw ApiException.BadRequest($"{name} must be an integer, got {value.GetRawText()}", name);
    }

    /// <summary>A JSON object field, as fields of its own (names prefixed with this one's).</summary>
    public JsonFields? Object(string field)
    {
        if (!TryGet(field, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Object) throw WrongKind(Name(field), "an object", value);
        return new JsonFields(value, Name(field));
    }

    /// <summary>Throws a 400 error for <paramref name="field"/> with <paramref name="message"/> after its name.</summary>
    public ApiException Invalid(string field, string message) => ApiException.BadRequest($"{Name(field)} {message}", Name(field));
}
