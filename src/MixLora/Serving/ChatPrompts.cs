using MixLora.Generation;
using MixLora.Tokenization;

namespace MixLora.Serving;

/// <summary>(conversation, served model name) ⇒ prompt token ids: what the chat client, `mixlora chat` and the server need.</summary>
public delegate IReadOnlyList<int> ChatPromptEncoder(IReadOnlyList<ChatTurn> messages, string model);

/// <summary>Builds <see cref="ChatPromptEncoder"/>s.</summary>
public static class ChatPrompts
{
    /// <summary>
    /// Formats with <paramref name="formatter"/> (the chat template, or the instruction prompt template) and encodes
    /// the text: a chat template writes BOS itself, so its text is encoded without special tokens (as transformers
    /// does); an instruction prompt is encoded as in training, with BOS.
    /// </summary>
    public static ChatPromptEncoder Encoder(ChatFormatter formatter, ITextTokenizer tokenizer) => (messages, _) =>
    {
        var text = formatter.Format(messages);
        if (formatter.AddSpecialTokensWhenEncoding) return PromptEncoding.Encode(tokenizer, text);
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        return ids.Count > 0 ? ids : throw new MixLoraException("the chat template rendered an empty prompt");
    };
}
