using MixLora.Generation;

namespace MixLora.Serving.Http;

/// <summary>A validated request of <c>/v1/chat/completions</c> or <c>/v1/completions</c>, before its prompt is encoded.</summary>
internal sealed record CompletionCall
{
    public required string Model { get; init; }

    /// <summary>The conversation (chat completions).</summary>
    public IReadOnlyList<ChatTurn> Messages { get; init; } = [];

    /// <summary>The prompt as text (completions), or null when it was given as token ids.</summary>
    public string? PromptText { get; init; }

    /// <summary>The prompt as token ids (completions with a list of integers as the prompt).</summary>
    public IReadOnlyList<int>? PromptIds { get; init; }

    /// <summary>Sampling as the request asks; its MaxNewTokens is set once the prompt's length is known.</summary>
    public required SamplingOptions Sampling { get; init; }

    /// <summary>The completion length the request asks for, or null for the server's default.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>The field that gave <see cref="MaxTokens"/> ("max_tokens" or "max_completion_tokens").</summary>
    public string MaxTokensField { get; init; } = "max_tokens";

    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }

    /// <summary><c>stream_options.include_usage</c>: a last chunk with the usage before <c>[DONE]</c>.</summary>
    public bool IncludeUsage { get; init; }
}
