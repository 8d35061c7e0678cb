namespace MixLora.Serving.Http;

/// <summary>Options of a <see cref="MixLoraServer"/>.</summary>
public sealed record MixLoraServerOptions
{
    /// <summary>
    /// The address to listen on: an IP address ("127.0.0.1", "0.0.0.0", "::1", "::"), "localhost" or "*" (every
    /// address). Anything but loopback makes the server reachable from other machines.
    /// </summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free port (see <see cref="MixLoraServer.BaseAddress"/> after the start).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every <c>/v1</c> route requires the header <c>Authorization: Bearer KEY</c> (else 401).</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// Tokens generated when a request gives no max_tokens (nor max_completion_tokens); lowered to what the context
    /// has left after the prompt. A max_tokens the request does give must fit in the context as it is.
    /// </summary>
    public int MaxTokensDefault { get; init; } = 256;

    /// <summary>
    /// Turns a chat conversation and the requested model name into the prompt ids of <c>/v1/chat/completions</c>
    /// (see <see cref="ChatPrompts.Encoder"/>: the model's chat template, or an instruction prompt template). A
    /// <see cref="MixLoraException"/> it throws (a conversation the format cannot express) is a 400 error on
    /// <c>messages</c>. Null: the Alpaca instruction template (the last user message is the instruction).
    /// </summary>
    public ChatPromptEncoder? EncodeChat { get; init; }

    /// <summary>
    /// How long <see cref="MixLoraServer.StopAsync"/> lets requests in flight finish before it cancels their
    /// generation (they then end at once: a 503 error, or an error event and <c>[DONE]</c> on a stream).
    /// </summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws a <see cref="MixLoraException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        if (!MixLoraServer.IsValidHost(Host)) throw new MixLoraException($"the host \"{Host}\" is not an IP address, localhost or *");
        if (Port is < 0 or > 65535) throw new MixLoraException($"the port must be in [0, 65535], got {Port}");
        if (MaxTokensDefault < 1) throw new MixLoraException($"the default max tokens must be at least 1, got {MaxTokensDefault}");
        if (ApiKey is { } key && (key.Length == 0 || key.Any(char.IsWhiteSpace)))
            throw new MixLoraException("the API key must be non-empty and contain no spaces");
        if (ShutdownGracePeriod < TimeSpan.Zero) throw new MixLoraException("the shutdown grace period must not be negative");
    }
}
