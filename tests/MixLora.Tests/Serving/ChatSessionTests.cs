using Microsoft.Extensions.AI;
using MixLora.Adapters;
using MixLora.Serving;
using MixLora.Tests.Support;
using MixLora.Tests.Training;

namespace MixLora.Tests.Serving;

/// <summary>`mixlora chat`'s conversation: history sent whole, switching models, reset.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class ChatSessionTests
{
    [Fact]
    public async Task HistoryIsSentWholeAndResetKeepsTheSystemPrompt()
    {
        using var model = Stories260K.Load();
        using var moe = Adapter.Load(model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = moe });
        var seen = new List<(string Model, string[] Turns)>();
        IReadOnlyList<int> Encode(IReadOnlyList<ChatTurn> messages, string name)
        {
            seen.Add((name, messages.Select(m => $"{m.Role}:{m.Content}").ToArray()));
            return MixLora.Generation.PromptEncoding.Encode(model.Tokenizer, messages[^1].Content);
        }
        using var client = new MixLoraChatClient(scheduler, Encode);
        var session = new ChatSession(client, scheduler.ModelNames, "base", new ChatOptions { Temperature = 0, MaxOutputTokens = 6 }, "Be brief.");

        var first = string.Concat(await session.SendAsync("Once upon a time").ToListAsync());
        Assert.NotEmpty(first);
        Assert.Equal(["system:Be brief.", "user:Once upon a time"], seen[^1].Turns);
        session.SwitchTo("moe");
        var second = string.Concat(await session.SendAsync("Lily").ToListAsync());
        Assert.Equal("moe", seen[^1].Model);
        Assert.Equal(["system:Be brief.", "user:Once upon a time", $"assistant:{first}", "user:Lily"], seen[^1].Turns);
        Assert.Equal(5, session.History.Count);
        Assert.Equal(second, session.History[^1].Text);

        Assert.Contains("no model named \"gpt\"; served: base, moe", Assert.Throws<MixLoraException>(() => session.SwitchTo("gpt")).Message);
        session.Reset();
        Assert.Equal(["system:Be brief."], session.History.Select(m => $"{m.Role}:{m.Text}"));
    }
}
