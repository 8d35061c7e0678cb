using MixLora.Generation;

namespace MixLora.Serving;

/// <summary>One completion to generate: a tokenised prompt, the model that answers it and how tokens are chosen.</summary>
public sealed record GenerationRequest
{
    /// <summary>Prompt token ids (BOS included when the tokenizer adds one); at least one.</summary>
    public required IReadOnlyList<int> PromptIds { get; init; }

    /// <summary>A served name (<see cref="GenerationScheduler.ModelNames"/>): an adapter, or the base model.</summary>
    public required string Model { get; init; }

    /// <summary>Temperature, top-p/top-k, penalties, seed and MaxNewTokens (the request's max_tokens).</summary>
    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Generation ends before the first occurrence of any of these strings (which is not returned).</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
}

/// <summary>
/// A piece of a completion as it is generated. The last chunk of a request has a <see cref="FinishReason"/>
/// ("stop": EOS or a stop string; "length": max tokens or the model's context) and the final token counts.
/// </summary>
public sealed record GenerationChunk(string Text, string? FinishReason, int PromptTokens, int CompletionTokens);

/// <summary>A whole completion.</summary>
public sealed record GenerationResult(string Text, string FinishReason, int PromptTokens, int CompletionTokens);
