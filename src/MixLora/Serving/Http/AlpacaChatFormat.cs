using MixLora.Data;

namespace MixLora.Serving.Http;

/// <summary>
/// The default chat formatting of <see cref="MixLoraServerOptions.FormatChat"/>: the last user message becomes the
/// instruction of the Alpaca template (<see cref="PromptTemplate.Alpaca"/>, its no-input form), which is what the
/// adapters trained with that template expect. Earlier turns and system messages are not part of the prompt.
/// </summary>
public static class AlpacaChatFormat
{
    /// <summary>The prompt text for <paramref name="turns"/>; <paramref name="model"/> is not used.</summary>
    /// <exception cref="MixLoraException">No message has the role "user".</exception>
    public static string Format(IReadOnlyList<ChatTurn> turns, string model)
    {
        var instruction = turns.LastOrDefault(t => t.Role == "user")
            ?? throw new MixLoraException("messages must contain a message with the role \"user\"");
        return PromptTemplate.Alpaca.Render(instruction.Content, input: null).Prompt;
    }
}
