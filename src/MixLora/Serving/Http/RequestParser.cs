using System.Text.Json;
using MixLora.Generation;

namespace MixLora.Serving.Http;

/// <summary>
/// Reads the OpenAI request bodies into a <see cref="CompletionCall"/>, checking every supported field's kind and range
/// (a 400 error naming the field otherwise). Fields the server does not use (user, logprobs, tools, …) are ignored.
/// </summary>
internal static class RequestParser
{
    /// <summary>Roles a chat message may have.</summary>
    public static readonly IReadOnlyList<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    /// <summary>The body of <c>POST /v1/chat/completions</c>.</summary>
    public static CompletionCall ParseChat(JsonElement body)
    {
        var fields = Root(body);
        var call = Common(fields, allowMaxCompletionTokens: true);
        if (!fields.TryGet("messages", out var messages))
            throw ApiException.BadRequest("messages is required: a non-empty list of {role, content} objects", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw JsonFields.WrongKind("messages", "a non-empty list of {role, content} objects", messages);
        if (messages.GetArrayLength() == 0) throw ApiException.BadRequest("messages must be a non-empty list", "messages");
        return call with { Messages = [.. messages.EnumerateArray().Select((m, i) => Message(m, $"messages[{i}]"))] };
    }

    /// <summary>The body of <c>POST /v1/completions</c>.</summary>
    public static CompletionCall ParseCompletion(JsonElement body)
    {
        var fields = Root(body);
        var call = Common(fields, allowMaxCompletionTokens: false);
        if (!fields.TryGet("prompt", out var prompt))
            throw ApiException.BadRequest("prompt is required: a string (or a list of token ids)", "prompt");
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return call with { PromptText = prompt.GetString()! };
            case JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String:
                return call with { PromptText = prompt[0].GetString()! };
            case JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                var ids = prompt.EnumerateArray().Select((e, i) => JsonFields.AsInteger(e, $"prompt[{i}]")).ToList();
                if (ids.FirstOrDefault(id => id is < 0 or > int.MaxValue, -1) is var bad and not -1)
                    throw ApiException.BadRequest($"prompt token id {bad} is not a valid token id", "prompt");
                return call with { PromptIds = [.. ids.Select(id => (int)id)] };
            case JsonValueKind.Array when prompt.GetArrayLength() > 1:
                throw ApiException.BadRequest("prompt must be one prompt (a string or a list of token ids); this server answers one prompt per request", "prompt");
            default:
                throw JsonFields.WrongKind("prompt", "a string or a non-empty list of token ids", prompt);
        }
    }

    private static JsonFields Root(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest($"the request body must be a JSON object, got {Config.JsonSource.Kind(body.ValueKind)}");
        return new JsonFields(body);
    }

    /// <summary>The fields both endpoints share: model, sampling, max tokens, stop, n, stream.</summary>
    private static CompletionCall Common(JsonFields f, bool allowMaxCompletionTokens)
    {
        var model = f.String("model");
        if (string.IsNullOrEmpty(model)) throw ApiException.BadRequest("model is required: the name of a served model (see GET /v1/models)", "model");

        var sampling = new SamplingOptions { Temperature = 1, TopP = 1, TopK = 0, RepetitionPenalty = 1 };
        if (f.Number("temperature") is double temperature)
        {
            if (!(temperature >= 0) || !double.IsFinite(temperature)) throw f.Invalid("temperature", $"must be ≥ 0, got {temperature}");
            sampling = sampling with { Temperature = temperature };
        }
        if (f.Number("top_p") is double topP)
        {
            if (!(topP > 0 && topP <= 1)) throw f.Invalid("top_p", $"must be in (0, 1], got {topP}");
            sampling = sampling with { TopP = topP };
        }
        if (f.Integer("top_k") is long topK)
        {
            if (topK < -1) throw f.Invalid("top_k", $"must be ≥ 0 (0 or -1 = off), got {topK}");
            sampling = sampling with { TopK = (int)Math.Clamp(topK, 0, int.MaxValue) };
        }
        if (f.Number("repetition_penalty") is double repetition)
        {
            if (!(repetition > 0) || !double.IsFinite(repetition)) throw f.Invalid("repetition_penalty", $"must be > 0 (1 = off), got {repetition}");
            sampling = sampling with { RepetitionPenalty = repetition };
        }
        if (f.Number("frequency_penalty") is double frequency)
        {
            if (!(frequency >= -2 && frequency <= 2)) throw f.Invalid("frequency_penalty", $"must be in [-2, 2], got {frequency}");
            sampling = sampling with { FrequencyPenalty = frequency };
        }
        if (f.Number("presence_penalty") is double presence)
        {
            if (!(presence >= -2 && presence <= 2)) throw f.Invalid("presence_penalty", $"must be in [-2, 2], got {presence}");
            sampling = sampling with { PresencePenalty = presence };
        }
        if (f.Integer("seed") is long seed) sampling = sampling with { Seed = seed };

        if (f.Integer("n") is long n && n != 1) throw f.Invalid("n", $"must be 1 (one choice per request), got {n}");

        int? maxTokens = null;
        string maxTokensField = "max_tokens";
        foreach (var field in allowMaxCompletionTokens ? new[] { "max_tokens", "max_completion_tokens" } : ["max_tokens"])
        {
            if (f.Integer(field) is not long value) continue;
            if (value < 1) throw f.Invalid(field, $"must be ≥ 1, got {value}");
            (maxTokens, maxTokensField) = ((int)Math.Min(value, int.MaxValue), field);   // max_completion_tokens wins when both are given
        }

        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = f.Object("stream_options")?.Bool("include_usage") ?? false;

        return new CompletionCall
        {
            Model = model,
            Sampling = sampling,
            MaxTokens = maxTokens,
            MaxTokensField = maxTokensField,
            Stop = Stop(f),
            Stream = stream,
            IncludeUsage = stream && includeUsage,
        };
    }

    private static IReadOnlyList<string> Stop(JsonFields f)
    {
        if (!f.TryGet("stop", out var stop)) return [];
        if (stop.ValueKind == JsonValueKind.String) return [stop.GetString()!];
        if (stop.ValueKind != JsonValueKind.Array) throw JsonFields.WrongKind("stop", "a string or a list of strings", stop);
        var list = new List<string>();
        foreach (var (item, i) in stop.EnumerateArray().Select((e, i) => (e, i)))
        {
            if (item.ValueKind != JsonValueKind.String) throw JsonFields.WrongKind($"stop[{i}]", "a string", item);
            list.Add(item.GetString()!);
        }
        return list;
    }

    private static ChatTurn Message(JsonElement message, string path)
    {
        if (message.ValueKind != JsonValueKind.Object) throw JsonFields.WrongKind(path, "an object with role and content", message);
        var f = new JsonFields(message, path);
        var role = f.String("role") ?? throw f.Invalid("role", "is required (one of " + string.Join(", ", Roles) + ")");
        if (!Roles.Contains(role)) throw f.Invalid("role", $"must be one of {string.Join(", ", Roles)}, got \"{role}\"");
        return new ChatTurn(role, Content(f, $"{path}.content"));
    }

    /// <summary>A string, or a list of text parts <c>{"type": "text", "text": …}</c> joined together; null is "".</summary>
    private static string Content(JsonFields message, string path)
    {
        if (!message.TryGet("content", out var content)) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw JsonFields.WrongKind(path, "a string or a list of text parts", content);
        var text = new System.Text.StringBuilder();
        foreach (var (part, i) in content.EnumerateArray().Select((e, i) => (e, i)))
        {
            var partPath = $"{path}[{i}]";
            if (part.ValueKind != JsonValueKind.Object) throw JsonFields.WrongKind(partPath, "an object {\"type\": \"text\", \"text\": …}", part);
            var fields = new JsonFields(part, partPath);
            var type = fields.String("type");
            if (type != "text") throw fields.Invalid("type", $"must be \"text\" (this server reads text only), got {(type is null ? "nothing" : $"\"{type}\"")}");
            text.Append(fields.String("text") ?? throw fields.Invalid("text", "is required (a string)"));
        }
        return text.ToString();
    }
}
