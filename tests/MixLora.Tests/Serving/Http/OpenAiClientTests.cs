using System.ClientModel;
using System.Text.Json;
using Microsoft.Extensions.AI;
using MixLora.Serving;
using MixLora.Serving.Http;
using OpenAI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiChatRole = Microsoft.Extensions.AI.ChatRole;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace MixLora.Tests.Serving.Http;

/// <summary>The official OpenAI .NET SDK and Microsoft.Extensions.AI talk to the server as they would to OpenAI.</summary>
[Collection(nameof(HttpServerCollection))]
public class OpenAiClientTests(ServerFixture fixture)
{
    private const string Question = "Tell me a story about a dog.";

    private OpenAIClient Client(string key = "unused") => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = fixture.V1 });

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    /// <summary>What the scheduler alone answers to the default chat format of <see cref="Question"/>.</summary>
    private Task<MixLora.Serving.GenerationResult> Direct(string model, int maxTokens) =>
        fixture.Scheduler.GenerateAsync(fixture.Request(MixLora.Data.PromptTemplate.Alpaca.Render(Question, input: null).Prompt, model, maxTokens));

    [Fact]
    public async Task ChatCompletionHasOpenAisShapeAndTheSchedulersGreedyText()
    {
        var chat = Client().GetChatClient(ServerFixture.AdapterName);
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage(Question)], Greedy(12));
        var direct = await Direct(ServerFixture.AdapterName, 12);

        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal(ServerFixture.AdapterName, completion.Model);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(direct.Text, Assert.Single(completion.Content).Text);
        Assert.Equal(direct.FinishReason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(direct.PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(direct.CompletionTokens, completion.Usage.OutputTokenCount);
        Assert.Equal(direct.PromptTokens + direct.CompletionTokens, completion.Usage.TotalTokenCount);
        Assert.InRange((DateTimeOffset.UtcNow - completion.CreatedAt).TotalMinutes, -1, 1);
        Assert.NotEqual("", direct.Text);
    }

    [Fact]
    public async Task StreamedChatDeltasAddUpToTheWholeGreedyText()
    {
        var chat = Client().GetChatClient("base");
        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage(Question)], Greedy(40));
        var text = new System.Text.StringBuilder();
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Question)], Greedy(40)))
        {
            updates.Add(update);
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.True(updates.Count > 5);
        Assert.Equal(ChatMessageRole.Assistant, updates[0].Role);
        Assert.Single(updates, u => u.FinishReason is not null);
        Assert.Equal(whole.FinishReason, updates.Single(u => u.FinishReason is not null).FinishReason);
        Assert.All(updates, u => Assert.Equal(updates[0].CompletionId, u.CompletionId));
        // The SDK asks for the usage chunk (stream_options.include_usage); it matches the whole response's.
        var usage = updates.Select(u => u.Usage).Single(u => u is not null)!;
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task ModelListNamesTheBaseModelAndTheAdapter()
    {
        var models = (await Client().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Equal(["base", ServerFixture.Folder, ServerFixture.AdapterName], models.Select(m => m.Id));
        Assert.All(models, m => Assert.Equal("mixlora", m.OwnedBy));
        Assert.All(models, m => Assert.InRange((DateTimeOffset.UtcNow - m.CreatedAt).TotalDays, -1, 1));
    }

    [Fact]
    public async Task UnknownModelIsA404TheSdkRaises()
    {
        var chat = Client().GetChatClient("gpt-4o");
        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage(Question)], Greedy(4)));
        Assert.Equal(404, error.Status);
        Assert.Contains("model_not_found", error.Message);

        var (status, body) = await Api.Post(fixture.Http, "v1/completions", Api.CompletionBody("gpt-4o", "Once", 4));
        Assert.Equal(404, status);
        var (message, type, param, code) = Api.Error(body);
        Assert.Equal(("invalid_request_error", "model", "model_not_found"), (type, param, code));
        Assert.Equal($"the model \"gpt-4o\" does not exist; served models: base, {ServerFixture.Folder}, {ServerFixture.AdapterName}", message);
    }

    [Fact]
    public async Task MalformedBodyIsA400WithTheErrorObject()
    {
        var (status, body) = await Api.Post(fixture.Http, "v1/chat/completions", """{"model": "base", "messages": [""");
        Assert.Equal(400, status);
        var (message, type, param, code) = Api.Error(body);
        Assert.StartsWith("the request body is not valid JSON", message);
        Assert.Equal(("invalid_request_error", null, null), (type, param, code));
    }

    [Fact]
    public async Task CompletionHasTheLegacyShapeAndStreamsTheSameText()
    {
        const string prompt = "Once upon a time";
        var direct = await fixture.Scheduler.GenerateAsync(fixture.Request(prompt, "base", 30));
        var (status, body) = await Api.Post(fixture.Http, "v1/completions", Api.CompletionBody("base", prompt, 30));
        Assert.Equal(200, status);
        Assert.Equal(["id", "object", "created", "model", "choices", "usage"], body.EnumerateObject().Select(p => p.Name));
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("base", body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(["text", "index", "logprobs", "finish_reason"], choice.EnumerateObject().Select(p => p.Name));
        Assert.Equal(direct.Text, choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal(direct.FinishReason, choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(direct.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(direct.CompletionTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(direct.PromptTokens + direct.CompletionTokens, usage.GetProperty("total_tokens").GetInt32());

        var (streamStatus, contentType, events) = await Api.PostStream(fixture.Http, "v1/completions",
            Api.CompletionBody("base", prompt, 30, stream: true, extra: """, "stream_options": {"include_usage": true}"""));
        Assert.Equal(200, streamStatus);
        Assert.Equal("text/event-stream", contentType);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(direct.Text, Api.StreamedText(events));
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal(chunks[0].GetProperty("id").GetString(), c.GetProperty("id").GetString()));
        Assert.Equal(direct.FinishReason, chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(direct.CompletionTokens, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ExtensionsAiChatClientGetsTheSdksGreedyText()
    {
        var chat = Client().GetChatClient(ServerFixture.Folder);
        ChatCompletion sdk = await chat.CompleteChatAsync([new UserChatMessage(Question)], Greedy(24));
        IChatClient ai = chat.AsIChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 24 };

        var response = await ai.GetResponseAsync([new AiChatMessage(AiChatRole.User, Question)], options);
        Assert.Equal(sdk.Content[0].Text, response.Text);
        Assert.Equal(sdk.Usage.OutputTokenCount, response.Usage?.OutputTokenCount);

        var streamed = new System.Text.StringBuilder();
        await foreach (var update in ai.GetStreamingResponseAsync([new AiChatMessage(AiChatRole.User, Question)], options)) streamed.Append(update.Text);
        Assert.Equal(sdk.Content[0].Text, streamed.ToString());
    }

    [Fact]
    public async Task RawChatResponseHasExactlyOpenAisFields()
    {
        var (status, body) = await Api.Post(fixture.Http, "v1/chat/completions", Api.ChatBody("base", Question, 8));
        Assert.Equal(200, status);
        Assert.Equal(["id", "object", "created", "model", "choices", "usage"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(["index", "message", "logprobs", "finish_reason"], choice.EnumerateObject().Select(p => p.Name));
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(8, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var (_, contentType, events) = await Api.PostStream(fixture.Http, "v1/chat/completions", Api.ChatBody("base", Question, 8, stream: true));
        Assert.Equal("text/event-stream", contentType);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));          // not asked for
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Empty(chunks[^1].GetProperty("choices")[0].GetProperty("delta").EnumerateObject());
        Assert.Equal(choice.GetProperty("message").GetProperty("content").GetString(), Api.StreamedText(events));
    }

    [Fact]
    public async Task HealthAndPageAreServed()
    {
        var (status, health) = await Api.Get(fixture.Http, "health");
        Assert.Equal(200, status);
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(0, health.GetProperty("active").GetInt32());
        Assert.Equal(["base", ServerFixture.Folder, ServerFixture.AdapterName], health.GetProperty("models").EnumerateArray().Select(m => m.GetString()));

        using var page = await fixture.Http.GetAsync("/");
        Assert.Equal(200, (int)page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<html", html);
        Assert.Contains("<title>MixLora.NET chat</title>", html);
        Assert.Contains("v1/chat/completions", html);

        var (missing, error) = await Api.Get(fixture.Http, "v1/nothing");
        Assert.Equal(404, missing);
        Assert.Equal("unknown_url", Api.Error(error).Code);
    }
}
