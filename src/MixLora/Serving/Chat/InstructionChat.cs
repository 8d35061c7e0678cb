using MixLora.Data;

namespace MixLora.Serving;

/// <summary>
/// A conversation rendered with an instruction prompt template (alpaca, moe_peft or a template file), for models
/// without a chat template. The reference implementation has no chat format, so this project defines one:
/// <list type="bullet">
/// <item>The conversation must end with a user message; its content is the <c>{instruction}</c>.</item>
/// <item>The <c>{input}</c> is the context before it: the contents of the system messages (in order, separated by
/// a blank line), then, after a blank line, the earlier turns, one per line as <c>User: …</c> / <c>Assistant: …</c>
/// (other roles: the role name with a capital first letter).</item>
/// <item>With no context the template's <c>prompt_no_input</c> is used, else <c>prompt_input</c>. Contents are used
/// verbatim. The prompt always ends with the template's response header, so there is no separate generation prompt.</item>
/// </list>
/// Example (moe_peft): system "Be brief.", user "Hi", assistant "Hello!", user "2+2?" gives
/// <c>### Instruction:\n2+2?\n\n### Input:\nBe brief.\n\nUser: Hi\nAssistant: Hello!\n\n### Output:\n</c>.
/// </summary>
public static class InstructionChat
{
    /// <summary>The instruction (last user message) and input (system text and earlier turns) of a conversation.</summary>
    /// <exception cref="MixLoraException">The conversation is empty or does not end with a user message.</exception>
    public static (string Instruction, string Input) Split(IReadOnlyList<ChatTurn> messages)
    {
        ChatTurn.Validate(messages);
        if (messages.Count == 0) throw new MixLoraException("the conversation has no messages");
        var last = messages[^1];
        if (last.Role != ChatTurn.UserRole)
            throw new MixLoraException(
                $"without a chat template the conversation must end with a user message (it becomes the instruction of the prompt template); the last message is from \"{last.Role}\"");
        var system = messages.Take(messages.Count - 1).Where(m => m.Role == ChatTurn.SystemRole).Select(m => m.Content);
        var turns = messages.Take(messages.Count - 1).Where(m => m.Role != ChatTurn.SystemRole).Select(m => Label(m.Role) + ": " + m.Content);
        var parts = system.ToList();
        var transcript = string.Join("\n", turns);
        if (transcript.Length > 0) parts.Add(transcript);
        return (last.Content, string.Join("\n\n", parts));
    }

    /// <summary>The prompt for <paramref name="messages"/> with <paramref name="template"/> (see the class summary for the rule).</summary>
    public static string Render(PromptTemplate template, IReadOnlyList<ChatTurn> messages)
    {
        ArgumentNullException.ThrowIfNull(template);
        var (instruction, input) = Split(messages);
        return template.Render(instruction, input).Prompt;
    }

    private static string Label(string role) => role switch
    {
        ChatTurn.UserRole => "User",
        ChatTurn.AssistantRole => "Assistant",
        "" => "",
        _ => char.ToUpperInvariant(role[0]) + role[1..],
    };
}
