using Microsoft.Extensions.AI;
using MixLora.Adapters;
using MixLora.Generation;
using MixLora.Serving;
using MixLora.Tests.Support;
using MixLora.Tests.Training;

namespace MixLora.Tests.Serving;

/// <summary>The in-process IChatClient maps ChatOptions onto the scheduler and adds nothing to the text.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class MixLoraChatClientTests
{
    // An encoder that only shows the last user message (the real one renders the chat template).
    private static ChatPromptEncoder LastUser(MixLora.IO.PretrainedModel model) =>
        (messages, _) => PromptEncoding.Encode(model.Tokenizer, messages.Last(m => m.Role == "user").Content);

    [Fact]
    public async Task ResponsesEqualTheSchedulersAndOptionsMapToSampling()
    {
        using var model = Stories260K.Load();
        using var moe = Adapter.Load(model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = moe });
        using IChatClient client = new MixLoraChatClient(scheduler, LastUser(model));
        var greedy = new ChatOptions { ModelId = "moe", Temperature = 0, MaxOutputTokens = 20 };
        ChatMessage[] conversation = [new(ChatRole.System, "ignored here"), new(ChatRole.User, "Once upon a time")];

        var response = await client.GetResponseAsync(conversation, greedy);
        var direct = await scheduler.GenerateAsync(new GenerationRequest
        {
            PromptIds = PromptEncoding.Encode(model.Tokenizer, "Once upon a time"),
            Model = "moe",
            Sampling = new SamplingOptions { Temperature = 0, MaxNewTokens = 20 },
        });
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal("moe", response.ModelId);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal((long)direct.PromptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(20, response.Usage.OutputTokenCount);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(conversation, greedy)) updates.Add(update);
        Assert.Equal(direct.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.Equal(20, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);

        // The base model by default; two callers at once batch together and each gets its own answer.
        var both = await Task.WhenAll(client.GetResponseAsync(conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 20 }),
            client.GetResponseAsync(conversation, greedy));
        Assert.Equal(direct.Text, both[1].Text);
        Assert.Equal("base", both[0].ModelId);
        var directBase = await scheduler.GenerateAsync(new GenerationRequest
        {
            PromptIds = PromptEncoding.Encode(model.Tokenizer, "Once upon a time"),
            Model = "base",
            Sampling = new SamplingOptions { Temperature = 0, MaxNewTokens = 20 },
        });
        Assert.Equal(directBase.Text, both[0].Text);

        await Assert.ThrowsAsync<UnknownModelException>(() => client.GetResponseAsync(conversation, new ChatOptions { ModelId = "nope" }));
        Assert.Same(scheduler, client.GetService<GenerationScheduler>());
        Assert.Equal("mixlora", client.GetService<ChatClientMetadata>()!.ProviderName);
    }
}
