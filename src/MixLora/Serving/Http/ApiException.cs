namespace MixLora.Serving.Http;

/// <summary>
/// A request the server answers with an OpenAI-style error object
/// (<c>{"error": {"message", "type", "param", "code"}}</c>) and an HTTP status.
/// </summary>
internal sealed class ApiException(int status, string message, string type, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>"invalid_request_error" (the client's mistake) or "server_error".</summary>
    public string Type { get; } = type;

    /// <summary>The request field at fault (e.g. "temperature", "messages[0].content"), or null.</summary>
    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null, string? code = null) =>
        new(400, message, "invalid_request_error", param, code);

    public static ApiException UnknownModel(string model, IEnumerable<string> served) =>
        new(404, $"the model \"{model}\" does not exist; served models: {string.Join(", ", served)}", "invalid_request_error", "model", "model_not_found");

    public static ApiException ShuttingDown() => new(503, "the server is shutting down", "server_error", code: "server_shutting_down");
}
