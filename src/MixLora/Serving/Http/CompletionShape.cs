using System.Text.Json;

namespace MixLora.Serving.Http;

/// <summary>
/// How one endpoint's completions look on the wire: the whole response and the chunks of a stream
/// (<see cref="ChatShape"/> for <c>/v1/chat/completions</c>, <see cref="TextShape"/> for <c>/v1/completions</c>).
/// </summary>
internal abstract class CompletionShape
{
    /// <summary>"chatcmpl-" or "cmpl-".</summary>
    public abstract string IdPrefix { get; }

    /// <summary>The object of the whole response ("chat.completion", "text_completion").</summary>
    protected abstract string WholeObject { get; }

    /// <summary>The object of a stream chunk ("chat.completion.chunk", "text_completion").</summary>
    protected abstract string ChunkObject { get; }

    /// <summary>The one choice of a whole response (<c>index</c>, the text, <c>finish_reason</c>).</summary>
    protected abstract void WriteChoice(Utf8JsonWriter w, string text, string finishReason);

    /// <summary>The one choice of a chunk: a delta with <paramref name="text"/>; a role delta when <paramref name="text"/> is null.</summary>
    protected abstract void WriteChunkChoice(Utf8JsonWriter w, string? text, string? finishReason);

    /// <summary>The chunk a stream starts with, if any (chat: the assistant role).</summary>
    public virtual byte[]? FirstChunk(StreamIdentity stream) => null;

    public byte[] Whole(StreamIdentity identity, string text, string finishReason, TokenUsage usage) => OpenAiJson.Write(w =>
    {
        w.WriteStartObject();
        OpenAiJson.Header(w, identity.Id, WholeObject, identity.Created, identity.Model);
        w.WriteStartArray("choices");
        WriteChoice(w, text, finishReason);
        w.WriteEndArray();
        OpenAiJson.Usage(w, usage);
        w.WriteEndObject();
    });

    /// <summary>A chunk with new text (<paramref name="finishReason"/> null) or the last one of the choice (empty delta).</summary>
    public byte[] Chunk(StreamIdentity identity, string? text, string? finishReason) => OpenAiJson.Write(w =>
    {
        w.WriteStartObject();
        OpenAiJson.Header(w, identity.Id, ChunkObject, identity.Created, identity.Model);
        w.WriteStartArray("choices");
        WriteChunkChoice(w, text, finishReason);
        w.WriteEndArray();
        if (identity.IncludeUsage) w.WriteNull("usage");    // as OpenAI: null on every chunk but the usage chunk
        w.WriteEndObject();
    });

    /// <summary>The chunk <c>stream_options.include_usage</c> asks for: no choices, the usage.</summary>
    public byte[] UsageChunk(StreamIdentity identity, TokenUsage usage) => OpenAiJson.Write(w =>
    {
        w.WriteStartObject();
        OpenAiJson.Header(w, identity.Id, ChunkObject, identity.Created, identity.Model);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        OpenAiJson.Usage(w, usage);
        w.WriteEndObject();
    });
}

/// <summary>What every chunk of one stream repeats.</summary>
internal sealed record StreamIdentity(string Id, long Created, string Model, bool IncludeUsage);

/// <summary><c>/v1/chat/completions</c>: choices carry a message (whole) or a delta (chunks).</summary>
internal sealed class ChatShape : CompletionShape
{
    public static ChatShape Instance { get; } = new();

    public override string IdPrefix => "chatcmpl-";
    protected override string WholeObject => "chat.completion";
    protected override string ChunkObject => "chat.completion.chunk";

    public override byte[]? FirstChunk(StreamIdentity stream) => Chunk(stream, null, null);

    protected override void WriteChoice(Utf8JsonWriter w, string text, string finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        w.WriteString("content", text);
        w.WriteNull("refusal");
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }

    protected override void WriteChunkChoice(Utf8JsonWriter w, string? text, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        if (finishReason is null)
        {
            if (text is null)
            {
                w.WriteString("role", "assistant");
                w.WriteString("content", "");
            }
            else w.WriteString("content", text);
        }
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }
}

/// <summary><c>/v1/completions</c>: choices carry the text itself, whole or in pieces.</summary>
internal sealed class TextShape : CompletionShape
{
    public static TextShape Instance { get; } = new();

    public override string IdPrefix => "cmpl-";
    protected override string WholeObject => "text_completion";
    protected override string ChunkObject => "text_completion";

    protected override void WriteChoice(Utf8JsonWriter w, string text, string finishReason) => WriteChunkChoice(w, text, finishReason);

    protected override void WriteChunkChoice(Utf8JsonWriter w, string? text, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteString("text", text ?? "");
        w.WriteNumber("index", 0);
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }
}
