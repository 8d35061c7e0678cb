using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MixLora.Serving.Http;

/// <summary>Token counts of one completion, as the <c>usage</c> object reports them.</summary>
internal readonly record struct TokenUsage(int PromptTokens, int CompletionTokens);

/// <summary>
/// The JSON bodies the server sends, written field by field so that their shape is exactly OpenAI's (which fields are
/// present, which are null) whatever a serializer's settings would do.
/// </summary>
internal static class OpenAiJson
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON document written by <paramref name="write"/>, as UTF-8 bytes.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Options)) write(writer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
    public static byte[] Error(string message, string type, string? param, string? code) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        w.WriteString("param", param);
        w.WriteString("code", code);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    public static void Usage(Utf8JsonWriter w, TokenUsage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        w.WriteEndObject();
    }

    /// <summary>The fields every completion and chunk starts with.</summary>
    public static void Header(Utf8JsonWriter w, string id, string kind, long created, string model)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    /// <summary><c>GET /v1/models</c>: <c>{"object": "list", "data": [{id, object: "model", created, owned_by}]}</c>.</summary>
    public static byte[] Models(IEnumerable<string> names, long created) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (var name in names)
        {
            w.WriteStartObject();
            w.WriteString("id", name);
            w.WriteString("object", "model");
            w.WriteNumber("created", created);
            w.WriteString("owned_by", "mixlora");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary><c>GET /health</c>: <c>{"status": "ok", "active": n, "models": [...]}</c>.</summary>
    public static byte[] Health(int active, IEnumerable<string> names) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("status", "ok");
        w.WriteNumber("active", active);
        w.WriteStartArray("models");
        foreach (var name in names) w.WriteStringValue(name);
        w.WriteEndArray();
        w.WriteEndObject();
    });
}
