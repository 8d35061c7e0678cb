using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>Parsing of our JSON files with errors that name the file, the key and what was expected.</summary>
internal static class JsonSource
{
    /// <summary>Parses <paramref name="json"/>, which must hold one JSON object; the caller disposes the document.</summary>
    public static JsonDocument ParseObject(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(source, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(" LineNumber:")[0]}", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new InvalidFileException(source, $"expected a JSON object at the top level, got {kind}");
        }
        return document;
    }

    /// <summary>The JSON keys a config record reads: its [JsonPropertyName] properties that are not [JsonIgnore]d.</summary>
    public static IReadOnlyList<string> Keys(Type type) =>
        type.GetProperties()
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name)
            .OfType<string>()
            .ToList();

    /// <summary>
    /// "unknown key "x"", with the closest known key as a hint when one is near (a typo, another case or separator),
    /// then the list of known keys.
    /// </summary>
    public static string UnknownKey(string key, IReadOnlyCollection<string> known, string knownLabel = "known keys")
    {
        var hint = KeyHint.Closest(key, known) is { } near ? $"; did you mean \"{near}\"?" : "";
        return $"unknown key \"{key}\"{hint} ({knownLabel}: {string.Join(", ", known)})";
    }

    /// <summary>
    /// Turns a serializer type error into "key "a.b" must be an integer, got "64"", following the error's JSON path
    /// through the properties of <paramref name="rootType"/>; null when the path names no known key.
    /// </summary>
    public static string? TypeError(Type rootType, JsonElement root, JsonException e)
    {
        var segments = (e.Path ?? "$").TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split('[')[0]).Where(s => s.Length > 0).ToList();
        Type type = rootType;
        JsonElement? element = root;
        var keys = new List<string>();
        foreach (var segment in segments)
        {
            var property = type.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name == segment);
            if (property is null) break;
            keys.Add(segment);
            type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            element = element is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(segment, out var child) ? child : null;
        }
        if (keys.Count == 0) return null;
        var found = element is { } value ? Show(value) : "an invalid value";
        return $"key \"{string.Join(".", keys)}\" must be {Describe(type)}, got {found}";
    }

    /// <summary>What a value of <paramref name="type"/> looks like in JSON, for error messages.</summary>
    public static string Describe(Type type) =>
        type == typeof(int) || type == typeof(long) ? "an integer"
        : type == typeof(double) || type == typeof(float) ? "a number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(string) ? "a string"
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? "a list"
        : type.IsClass ? "an object"
        : type.Name;

    /// <summary>What kind of JSON value this is, in words ("a string", "a list"), for error messages.</summary>
    public static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "true/false",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>A JSON value as it appears in the file, shortened for error messages.</summary>
    public static string Show(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 60 ? text : text[..57] + "...";
    }
}
