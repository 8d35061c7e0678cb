using System.Text.Json;
using System.Text.Json.Nodes;

namespace MixLora.Training;

/// <summary>Typed field access on a JSON tree that reports the file and the key when a field is missing or mistyped.</summary>
internal sealed class ManifestReader(string path)
{
    public JsonObject Object(JsonObject parent, string key) =>
        Field(parent, key) as JsonObject ?? throw Wrong(key, "a JSON object");

    public JsonArray Array(JsonObject parent, string key) =>
        Field(parent, key) as JsonArray ?? throw Wrong(key, "a JSON array");

    public string String(JsonObject parent, string key) => String(Field(parent, key), key);

    public string String(JsonNode? node, string key) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : throw Wrong(key, "a string");

    public long Long(JsonObject parent, string key, long min = 0) => Long(Field(parent, key), key, min, long.MaxValue);

    public int Int(JsonObject parent, string key, int min = 0) => (int)Long(Field(parent, key), key, min, int.MaxValue);

    public long Long(JsonNode? node, string key, long min, long max)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
            && value.TryGetValue<JsonElement>(out var element) && element.TryGetInt64(out var result)
            && result >= min && result <= max)
        {
            return result;
        }
        throw Wrong(key, $"an integer in [{min}, {max}]");
    }

    public double Double(JsonObject parent, string key) => Double(Field(parent, key), key);

    public double Double(JsonNode? node, string key)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number)
        {
            if (value.TryGetValue<JsonElement>(out var element) && element.TryGetDouble(out var fromElement)) return fromElement;
            if (value.TryGetValue<double>(out var direct)) return direct;
        }
        throw Wrong(key, "a number");
    }

    private JsonNode? Field(JsonObject parent, string key) =>
        parent.TryGetPropertyValue(key, out var node) ? node : throw new InvalidFileException(path, $"missing \"{key}\"");

    private InvalidFileException Wrong(string key, string expected) => new(path, $"\"{key}\" must be {expected}");
}
