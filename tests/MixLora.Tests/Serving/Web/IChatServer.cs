namespace MixLora.Tests.Serving.Web;

/// <summary>
/// What the chat page's browser tests talk to: a server on the loopback interface that serves the page at
/// <see cref="BaseUrl"/> and the OpenAI-shaped routes GET /v1/models and POST /v1/chat/completions (streamed).
/// </summary>
public interface IChatServer : IAsyncDisposable
{
    /// <summary>Where the page is: the server's root, ending in "/".</summary>
    Uri BaseUrl { get; }

    /// <summary>The model ids GET /v1/models lists, in its order.</summary>
    IReadOnlyList<string> ModelIds { get; }

    /// <summary>A prompt whose reply streams for long enough (seconds) to be stopped in the middle.</summary>
    string SlowPrompt { get; }

    /// <summary>The whole reply to a greedy (temperature 0) request for this model and conversation.</summary>
    string ExpectedReply(string model, IReadOnlyList<ChatTurn> messages, int maxTokens);
}

/// <summary>One entry of a request's "messages".</summary>
public sealed record ChatTurn(string Role, string Content);
