using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixLora.Config;

public sealed partial record TrainingConfig
{
    /// <summary>
    /// The config as JSON (4-space indentation) that <see cref="Parse"/> reads back to an equal config: run-wide
    /// keys, then per adapter its training keys followed by its PEFT/MixLoRA keys. Null keys are left out; floats are
    /// written as Python does (2e-05, 0.0002, 1.0) so the reference reads them with the same types.
    /// </summary>
    /// <exception cref="InvalidFileException">The config is invalid (see <see cref="Validate"/>).</exception>
    public string ToJson()
    {
        Validate("training config to write");
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true,
            IndentSize = 4,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            writer.WriteStartObject();
            WriteProperties(writer, this);
            writer.WritePropertyName("lora");
            writer.WriteStartArray();
            foreach (var adapter in Lora)
            {
                writer.WriteStartObject();
                WriteProperties(writer, adapter);
                WriteProperties(writer, adapter.Adapter);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes every non-null JSON property of a config record except lists of adapters.</summary>
    private static void WriteProperties(Utf8JsonWriter writer, object record)
    {
        foreach (var property in record.GetType().GetProperties())
        {
            var key = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name;
            if (key is null || property.GetCustomAttribute<JsonIgnoreAttribute>() is not null) continue;
            var value = property.GetValue(record);
            if (value is null or IReadOnlyList<AdapterTrainingConfig>) continue;
            writer.WritePropertyName(key);
            // The reference iterates range(num_epochs): a whole number of epochs must stay a JSON integer.
            if (key == "num_epochs" && value is double epochs && epochs == Math.Floor(epochs)) writer.WriteNumberValue((long)epochs);
            else WriteValue(writer, value);
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, object value)
    {
        switch (value)
        {
            case bool b: writer.WriteBooleanValue(b); break;
            case int n: writer.WriteNumberValue(n); break;
            case double d: writer.WriteRawValue(AdapterJsonFormatter.PythonFloat(d)); break;
            case string s: writer.WriteStringValue(s); break;
            case IEnumerable<string> list:
                writer.WriteStartArray();
                foreach (var item in list) writer.WriteStringValue(item);
                writer.WriteEndArray();
                break;
            case IEnumerable:
                throw new InvalidOperationException($"cannot write a {value.GetType().Name} in a training config");
            default:
                // A nested config record such as expert_lora.
                writer.WriteStartObject();
                WriteProperties(writer, value);
                writer.WriteEndObject();
                break;
        }
    }
}
