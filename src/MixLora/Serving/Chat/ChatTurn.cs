namespace MixLora.Serving;

/// <summary>
/// One message of a conversation. <paramref name="Role"/> is "system", "user", "assistant" (or whatever a chat
/// template accepts, e.g. "tool"); <paramref name="Content"/> is its text. A chat template sees it as
/// <c>{"role": Role, "content": Content}</c>.
/// </summary>
public sealed record ChatTurn(string Role, string Content)
{
    public const string SystemRole = "system";
    public const string UserRole = "user";
    public const string AssistantRole = "assistant";

    public static ChatTurn System(string content) => new(SystemRole, content);

    public static ChatTurn User(string content) => new(UserRole, content);

    public static ChatTurn Assistant(string content) => new(AssistantRole, content);

    internal static void Validate(IReadOnlyList<ChatTurn> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null) throw new ArgumentException($"message {i} is null", nameof(messages));
            if (messages[i].Role is null || messages[i].Content is null) throw new ArgumentException($"message {i} has a null role or content", nameof(messages));
        }
    }
}
