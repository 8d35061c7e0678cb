using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace MixLora.Serving;

/// <summary>
/// A conversation with one served model at a time, as `mixlora chat` runs it: the history is kept and sent whole with
/// every turn (the chat template renders it), answers stream, and the model can be switched or the history cleared.
/// </summary>
public sealed class ChatSession
{
    private readonly IChatClient _client;
    private readonly IReadOnlyList<string> _models;
    private readonly List<ChatMessage> _history = [];

    /// <param name="models">The names <see cref="SwitchTo"/> accepts.</param>
    public ChatSession(IChatClient client, IReadOnlyList<string> models, string model, ChatOptions? options = null, string? systemPrompt = null)
    {
        _client = client;
        _models = models;
        Options = options ?? new ChatOptions();
        SystemPrompt = systemPrompt;
        SwitchTo(model);
        Reset();
    }

    /// <summary>The names <see cref="SwitchTo"/> accepts.</summary>
    public IReadOnlyList<string> Models => _models;

    /// <summary>The model answering the next turn.</summary>
    public string Model { get; private set; } = "";

    /// <summary>Sampling options of every turn (their ModelId is replaced by <see cref="Model"/>).</summary>
    public ChatOptions Options { get; }

    public string? SystemPrompt { get; }

    public IReadOnlyList<ChatMessage> History => _history;

    /// <exception cref="MixLoraException">No served model has that name.</exception>
    public void SwitchTo(string model)
    {
        if (!_models.Contains(model)) throw new MixLoraException($"no model named \"{model}\"; served: {string.Join(", ", _models)}");
        Model = model;
    }

    /// <summary>Forgets the conversation (the system prompt stays).</summary>
    public void Reset()
    {
        _history.Clear();
        if (SystemPrompt is { Length: > 0 } system) _history.Add(new ChatMessage(ChatRole.System, system));
    }

    /// <summary>Sends a user message and streams the answer; both join the history when the answer is complete.</summary>
    public async IAsyncEnumerable<string> SendAsync(string text, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var turn = new List<ChatMessage>(_history) { new(ChatRole.User, text) };
        var options = Options.Clone();
        options.ModelId = Model;
        var answer = new StringBuilder();
        await foreach (var update in _client.GetStreamingResponseAsync(turn, options, cancellation).ConfigureAwait(false))
        {
            answer.Append(update.Text);
            if (update.Text.Length > 0) yield return update.Text;
        }
        _history.Add(turn[^1]);
        _history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
    }
}
