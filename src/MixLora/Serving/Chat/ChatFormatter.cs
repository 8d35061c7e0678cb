using MixLora.Data;

namespace MixLora.Serving;

/// <summary>
/// Turns a conversation into the prompt text for a model: with the model's chat template when it has one (as
/// transformers' <c>apply_chat_template</c>), otherwise with the adapter's instruction prompt template following
/// the rule of <see cref="InstructionChat"/> (the last user message is the instruction, the system text and
/// earlier turns are the input).
/// </summary>
public sealed class ChatFormatter
{
    public ChatFormatter(ChatTemplate? template, PromptTemplate fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        Template = template;
        Fallback = fallback;
    }

    /// <summary>
    /// The formatter for a model folder: its <c>chat_template.jinja</c> or tokenizer_config.json <c>chat_template</c>
    /// (see <see cref="ChatTemplate.FromFolder"/>), else <paramref name="fallback"/> (e.g. the adapter's
    /// <see cref="PromptTemplate.Resolve"/>d <c>prompt</c>).
    /// </summary>
    public static ChatFormatter ForModel(string modelFolder, PromptTemplate fallback) => new(ChatTemplate.FromFolder(modelFolder), fallback);

    /// <summary>The formatter for a tokenizer_config.json (null: none), else <paramref name="fallback"/>.</summary>
    public static ChatFormatter FromTokenizerConfig(string? tokenizerConfigPath, PromptTemplate fallback) =>
        new(tokenizerConfigPath is null ? null : ChatTemplate.FromTokenizerConfig(tokenizerConfigPath), fallback);

    /// <summary>The model's chat template, or null when the fallback is used.</summary>
    public ChatTemplate? Template { get; }

    /// <summary>The instruction prompt template used when there is no chat template.</summary>
    public PromptTemplate Fallback { get; }

    public bool UsesChatTemplate => Template is not null;

    /// <summary>
    /// Whether the prompt should be encoded with the tokenizer's special tokens (BOS). A chat template writes them
    /// itself (encode its text without adding BOS, as transformers does); an instruction prompt is encoded as in
    /// training, with BOS when the tokenizer adds one.
    /// </summary>
    public bool AddSpecialTokensWhenEncoding => Template is null;

    /// <summary>
    /// The prompt text for <paramref name="messages"/>. <paramref name="addGenerationPrompt"/> asks a chat template
    /// to end with the assistant's header; an instruction prompt always ends with its response header.
    /// </summary>
    /// <exception cref="MixLoraException">The conversation is empty, or without a chat template does not end with a user message.</exception>
    /// <exception cref="ChatTemplateException">The chat template failed or refused the conversation.</exception>
    public string Format(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true)
    {
        ChatTurn.Validate(messages);
        if (messages.Count == 0) throw new MixLoraException("the conversation has no messages");
        return Template is null ? InstructionChat.Render(Fallback, messages) : Template.Render(messages, addGenerationPrompt);
    }
}
