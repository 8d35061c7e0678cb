using System.Text.Json;
using MixLora.Serving;
using MixLora.Tests.Support;

namespace MixLora.Tests.Serving;

/// <summary>
/// assets/golden/chat-templates.json: the Llama-3, Qwen3 and Gemma-3 chat templates rendered by Jinja2 3.1.2 as
/// transformers' apply_chat_template renders them (its "how" field), for each conversation with and without the
/// generation prompt, plus one template-raised error.
/// </summary>
public static class ChatGolden
{
    public sealed record Case(string Template, string Source, string Conversation, bool AddGenerationPrompt, string? Rendered, string? Error);

    /// <summary>strftime_now's date when the golden strings were made.</summary>
    public static readonly DateTime Date = new(2026, 1, 15, 12, 0, 0, DateTimeKind.Unspecified);

    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(RepoPaths.Asset("golden", "chat-templates.json"))));

    /// <summary>
    /// The gemma3 error case names a conversation "user_user" that the file's "conversations" do not define. The
    /// template raises its error for any two consecutive user messages (the texts are never read), so it is that here.
    /// </summary>
    private static readonly Dictionary<string, ChatTurn[]> Undefined = new()
    {
        ["user_user"] = [ChatTurn.User("Hello."), ChatTurn.User("Are you there?")],
    };

    public static IReadOnlyList<ChatTurn> Conversation(string name)
    {
        if (!Document.Value.RootElement.GetProperty("conversations").TryGetProperty(name, out var messages)) return Undefined[name];
        return messages.EnumerateArray()
            .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToList();
    }

    public static IReadOnlyList<Case> Cases()
    {
        var cases = new List<Case>();
        foreach (var template in Document.Value.RootElement.GetProperty("templates").EnumerateObject())
        {
            string source = template.Value.GetProperty("source").GetString()!;
            foreach (var c in template.Value.GetProperty("cases").EnumerateArray())
            {
                cases.Add(new Case(
                    template.Name,
                    source,
                    c.GetProperty("conversation").GetString()!,
                    c.GetProperty("add_generation_prompt").GetBoolean(),
                    c.GetProperty("rendered").GetString(),
                    c.GetProperty("error").GetString()));
            }
        }
        return cases;
    }

    public static TheoryData<int> CaseIndexes()
    {
        var rows = new TheoryData<int>();
        for (int i = 0; i < Cases().Count; i++) rows.Add(i);
        return rows;
    }

    /// <summary>The template of a golden case's source file (a path relative to the repository root).</summary>
    public static ChatTemplate Template(Case c)
    {
        var template = ChatTemplate.FromTokenizerConfig(Path.Combine(RepoPaths.Root, c.Source))
            ?? throw new InvalidOperationException($"{c.Source} has no chat_template");
        template.Clock = () => Date;
        return template;
    }
}
