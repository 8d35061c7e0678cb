using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// Reads <c>target_modules</c> given either as a list of names or as a map name → enabled, and returns the enabled
/// names in the global order (spec §1.2). Writing is done by <see cref="AdapterConfig.ToJson"/>.
/// </summary>
internal sealed class AdapterTargetModulesJsonConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var names = new List<string>();
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.String) throw new JsonException("target_modules: expected a name");
                names.Add(reader.GetString()!);
            }
        }
        else if (reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                reader.Read();
                bool enabled = reader.TokenType switch
                {
                    JsonTokenType.True => true,
                    JsonTokenType.False => false,
                    _ => throw new JsonException("target_modules: expected true or false"),
                };
                if (enabled) names.Add(name);
            }
        }
        else
        {
            throw new JsonException("target_modules: expected a list or a map");
        }
        return AdapterTargetModules.Normalize(names);
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var name in value) writer.WriteStringValue(name);
        writer.WriteEndArray();
    }
}
