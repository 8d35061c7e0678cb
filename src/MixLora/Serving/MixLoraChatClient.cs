using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using MixLora.Generation;

namespace MixLora.Serving;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="GenerationScheduler"/> for in-process use: <c>ChatOptions.ModelId</c>
/// picks the base model or an adapter, the other options map to sampling, and every caller shares the scheduler's
/// batches (several callers, or a chat client and an HTTP server, decode together).
/// </summary>
public sealed class MixLoraChatClient : IChatClient
{
    private readonly GenerationScheduler _scheduler;
    private readonly ChatPromptEncoder _encodePrompt;
    private readonly string _defaultModel;
    private readonly int _defaultMaxTokens;

    /// <param name="encodePrompt">(conversation, model name) ⇒ prompt ids (see <see cref="ChatPrompts.Encoder"/>).</param>
    /// <param name="defaultModel">The model used when <c>ChatOptions.ModelId</c> is not set.</param>
    /// <param name="defaultMaxTokens">Tokens generated when <c>ChatOptions.MaxOutputTokens</c> is not set (capped by the context).</param>
    public MixLoraChatClient(GenerationScheduler scheduler, ChatPromptEncoder encodePrompt,
        string defaultModel = GenerationScheduler.BaseModelName, int defaultMaxTokens = 256)
    {
        _scheduler = scheduler;
        _encodePrompt = encodePrompt;
        _defaultModel = defaultModel;
        _defaultMaxTokens = defaultMaxTokens;
    }

    /// <summary>The whole answer (<see cref="ChatResponse.FinishReason"/>, token usage and model id set).</summary>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        var result = await _scheduler.GenerateAsync(request, cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
        {
            ModelId = request.Model,
            FinishReason = FinishReason(result.FinishReason),
            Usage = Usage(result.PromptTokens, result.CompletionTokens),
            CreatedAt = DateTimeOffset.UtcNow,
            ResponseId = NewId(),
        };
    }

    /// <summary>The answer as it is generated; the last update carries the finish reason and the token usage.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        var id = NewId();
        await foreach (var chunk in _scheduler.Generate(request, cancellationToken).ConfigureAwait(false))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, chunk.Text) { ModelId = request.Model, ResponseId = id, MessageId = id };
            if (chunk.FinishReason is { } reason)
            {
                update.FinishReason = FinishReason(reason);
                update.Contents.Add(new UsageContent(Usage(chunk.PromptTokens, chunk.CompletionTokens)));
            }
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("mixlora", defaultModelId: _defaultModel)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(_scheduler) ? _scheduler
        : null;

    /// <summary>The scheduler belongs to whoever created it; disposing the client leaves it running.</summary>
    public void Dispose()
    {
    }

    private GenerationRequest Request(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var conversation = messages.Select(m => new ChatTurn(m.Role.Value, m.Text)).ToList();
        if (conversation.Count == 0) throw new MixLoraException("the conversation is empty; give at least one message");
        var model = options?.ModelId ?? _defaultModel;
        var prompt = _encodePrompt(conversation, model);
        int room = Math.Max(0, _scheduler.ContextLength - prompt.Count);
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            MaxNewTokens = options?.MaxOutputTokens ?? Math.Min(_defaultMaxTokens, room),
            Temperature = options?.Temperature ?? defaults.Temperature,
            TopP = options?.TopP ?? defaults.TopP,
            TopK = options?.TopK ?? defaults.TopK,
            FrequencyPenalty = options?.FrequencyPenalty ?? 0,
            PresencePenalty = options?.PresencePenalty ?? 0,
            Seed = options?.Seed,
        };
        return new GenerationRequest { PromptIds = prompt, Model = model, Sampling = sampling, Stop = [.. options?.StopSequences ?? []] };
    }

    private static ChatFinishReason FinishReason(string reason) => reason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(int prompt, int completion) =>
        new() { InputTokenCount = prompt, OutputTokenCount = completion, TotalTokenCount = prompt + completion };

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
}
