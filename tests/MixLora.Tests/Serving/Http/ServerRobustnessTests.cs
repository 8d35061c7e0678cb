using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MixLora.Serving;
using MixLora.Serving.Http;

namespace MixLora.Tests.Serving.Http;

/// <summary>Validation, the context limit, disconnects, load, the API key and shutdown.</summary>
[Collection(nameof(HttpServerCollection))]
public class ServerRobustnessTests(ServerFixture fixture)
{
    private const string Chat = "v1/chat/completions";
    private const string Completions = "v1/completions";
    private const string User = """[{"role": "user", "content": "Hi"}]""";

    public static TheoryData<string, string, string?, string> BadBodies => new()
    {
        { Chat, $$"""{"messages": {{User}}}""", "model", "model is required" },
        { Chat, """{"model": "base", "messages": []}""", "messages", "messages must be a non-empty list" },
        { Chat, """{"model": "base", "messages": "Hi"}""", "messages", "messages must be a non-empty list of {role, content} objects, got a string" },
        { Chat, """{"model": "base"}""", "messages", "messages is required" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "temperature": -1}""", "temperature", "temperature must be ≥ 0, got -1" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "temperature": "hot"}""", "temperature", "temperature must be a number, got a string" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "max_tokens": 0}""", "max_tokens", "max_tokens must be ≥ 1, got 0" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "max_completion_tokens": -5}""", "max_completion_tokens", "max_completion_tokens must be ≥ 1" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "max_tokens": 2.5}""", "max_tokens", "max_tokens must be an integer, got 2.5" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "n": 2}""", "n", "n must be 1" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "top_p": 1.5}""", "top_p", "top_p must be in (0, 1]" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "top_k": -2}""", "top_k", "top_k must be ≥ 0" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "frequency_penalty": 3}""", "frequency_penalty", "frequency_penalty must be in [-2, 2]" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "presence_penalty": -2.5}""", "presence_penalty", "presence_penalty must be in [-2, 2]" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "repetition_penalty": 0}""", "repetition_penalty", "repetition_penalty must be > 0" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "seed": "x"}""", "seed", "seed must be an integer, got a string" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "stop": [1]}""", "stop[0]", "stop[0] must be a string, got a number" },
        { Chat, $$"""{"model": "base", "messages": {{User}}, "stream": "yes"}""", "stream", "stream must be true or false" },
        { Chat, $$$"""{"model": "base", "messages": {{{User}}}, "stream": true, "stream_options": {"include_usage": 1}}""", "stream_options.include_usage", "stream_options.include_usage must be true or false" },
        { Chat, """{"model": "base", "messages": [{"role": "robot", "content": "Hi"}]}""", "messages[0].role", "messages[0].role must be one of system, developer, user, assistant, tool" },
        { Chat, """{"model": "base", "messages": [{"content": "Hi"}]}""", "messages[0].role", "messages[0].role is required" },
        { Chat, """{"model": "base", "messages": [{"role": "user", "content": 5}]}""", "messages[0].content", "messages[0].content must be a string or a list of text parts" },
        { Chat, """{"model": "base", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}""", "messages[0].content[0].type", "must be \"text\"" },
        { Chat, """{"model": "base", "messages": [{"role": "system", "content": "Be brief."}]}""", "messages", "the conversation must end with a user message" },
        { Chat, """[1, 2]""", null, "the request body must be a JSON object, got a list" },
        { Chat, "", null, "the request body is not valid JSON" },
        { Completions, """{"model": "base"}""", "prompt", "prompt is required" },
        { Completions, """{"model": "base", "prompt": 5}""", "prompt", "prompt must be a string or a non-empty list of token ids, got a number" },
        { Completions, """{"model": "base", "prompt": ["a", "b"]}""", "prompt", "one prompt per request" },
        { Completions, """{"model": "base", "prompt": [1, 100000]}""", "prompt", "prompt token id 100000 is outside the vocabulary [0, 512)" },
        { Completions, """{"model": "base", "prompt": "Hi", "temperature": null, "max_tokens": true}""", "max_tokens", "max_tokens must be an integer, got true/false" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadFieldsAreA400NamingTheField(string route, string body, string? param, string message)
    {
        var (status, response) = await Api.Post(fixture.Http, route, body);
        Assert.Equal(400, status);
        var error = Api.Error(response);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal(param, error.Param);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task PromptAndMaxTokensBeyondTheContextAreA400()
    {
        var (status, body) = await Api.Post(fixture.Http, Completions, Api.CompletionBody("base", "Once upon a time", 600));
        Assert.Equal(400, status);
        var error = Api.Error(body);
        Assert.Equal(("max_tokens", "context_length_exceeded"), (error.Param, error.Code));
        Assert.Contains("plus max_tokens (600) exceed the model's context of 512 tokens", error.Message);

        (status, body) = await Api.Post(fixture.Http, Chat, Api.ChatBody("base", "Hi", 4).Replace("\"max_tokens\"", "\"max_completion_tokens\"").Replace(": 4", ": 510"));
        Assert.Equal(400, status);
        Assert.Equal("max_completion_tokens", Api.Error(body).Param);

        var longText = string.Concat(Enumerable.Repeat("the dog ran and ", 200));
        (status, body) = await Api.Post(fixture.Http, Chat, Api.ChatBody("base", longText, 4));
        Assert.Equal(400, status);
        Assert.Equal(("messages", "context_length_exceeded"), (Api.Error(body).Param, Api.Error(body).Code));
        (status, body) = await Api.Post(fixture.Http, Completions, Api.CompletionBody("base", longText, 4));
        Assert.Equal(("prompt", "context_length_exceeded"), (Api.Error(body).Param, Api.Error(body).Code));

        // Without max_tokens the default (256) is lowered to what the context has left (a few tokens here).
        var fits = "";
        while (MixLora.Generation.PromptEncoding.Encode(fixture.Model.Tokenizer, fits + "the dog ran and ").Count < fixture.Scheduler.ContextLength - 8) fits += "the dog ran and ";
        int promptTokens = MixLora.Generation.PromptEncoding.Encode(fixture.Model.Tokenizer, fits).Count;
        (status, body) = await Api.Post(fixture.Http, Completions, $$"""{"model": "base", "prompt": "{{fits}}", "temperature": 0}""");
        Assert.Equal(200, status);
        var usage = body.GetProperty("usage");
        Assert.Equal(promptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.InRange(usage.GetProperty("total_tokens").GetInt32(), promptTokens + 1, fixture.Scheduler.ContextLength);
    }

    [Fact]
    public async Task HttpAddsNothingToTheSchedulersGreedyText()
    {
        foreach (var (model, prompt) in new[] { ("base", "Once upon a time"), ("base", "The dog ran to the park and"), (ServerFixture.AdapterName, "Lily") })
        {
            var direct = await fixture.Scheduler.GenerateAsync(fixture.Request(prompt, model, 12));
            var (_, completion) = await Api.Post(fixture.Http, Completions, Api.CompletionBody(model, prompt, 12));
            Assert.Equal(direct.Text, completion.GetProperty("choices")[0].GetProperty("text").GetString());
            var (_, _, events) = await Api.PostStream(fixture.Http, Completions, Api.CompletionBody(model, prompt, 12, stream: true));
            Assert.Equal(direct.Text, Api.StreamedText(events));

            var chatPrompt = MixLora.Data.PromptTemplate.Alpaca.Render(prompt, input: null).Prompt;
            var directChat = await fixture.Scheduler.GenerateAsync(fixture.Request(chatPrompt, model, 12));
            var (_, chat) = await Api.Post(fixture.Http, Chat, Api.ChatBody(model, prompt, 12));
            Assert.Equal(directChat.Text, chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
            Assert.Equal(directChat.PromptTokens, chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
    }

    [Fact]
    public async Task StopStringsSeedAndContentPartsAreHonoured()
    {
        var (_, whole) = await Api.Post(fixture.Http, Completions, Api.CompletionBody("base", "Once upon a time", 40));
        var text = whole.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var stop = text.Substring(text.IndexOf(' ', 12), 4);
        var (_, stopped) = await Api.Post(fixture.Http, Completions, Api.CompletionBody("base", "Once upon a time", 40, extra: $", \"stop\": {JsonSerializer.Serialize(stop)}"));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        string Sampled(JsonElement body) => body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        const string seeded = """{"model": "base", "prompt": "Lily", "max_tokens": 30, "temperature": 1, "seed": 7}""";
        var (_, a) = await Api.Post(fixture.Http, Completions, seeded);
        var (_, b) = await Api.Post(fixture.Http, Completions, seeded);
        var (_, c) = await Api.Post(fixture.Http, Completions, seeded.Replace("7}", "8}"));
        Assert.Equal(Sampled(a), Sampled(b));
        Assert.NotEqual(Sampled(a), Sampled(c));

        // Content as a list of text parts is the same message as the joined string.
        var (_, parts) = await Api.Post(fixture.Http, Chat,
            """{"model": "base", "max_tokens": 10, "temperature": 0, "messages": [{"role": "user", "content": [{"type": "text", "text": "Tell me "}, {"type": "text", "text": "a story."}]}]}""");
        var (_, plain) = await Api.Post(fixture.Http, Chat, Api.ChatBody("base", "Tell me a story.", 10));
        Assert.Equal(plain.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(),
                     parts.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task ClientDisconnectingMidRequestFreesItsRow()
    {
        // A raw socket, so that the disconnect is a real one (no client-side draining or connection reuse).
        long disconnected = fixture.Server.DisconnectedRequests;
        var body = Encoding.UTF8.GetBytes(Api.CompletionBody(ServerFixture.AdapterName, "Once upon a time", 480, stream: true));
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(fixture.Server.BaseAddress.Host, fixture.Server.BaseAddress.Port);
            var stream = client.GetStream();
            var head = $"POST /v1/completions HTTP/1.1\r\nHost: {fixture.Server.BaseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray());
            var received = new StringBuilder();
            var buffer = new byte[256];
            while (CountOf(received.ToString(), "data: ") < 3)
            {
                int n = await stream.ReadAsync(buffer);
                Assert.True(n > 0, "the server closed the stream early");
                received.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
            Assert.StartsWith("HTTP/1.1 200", received.ToString());
            Assert.Equal(1, fixture.Scheduler.ActiveCount);
            client.Client.Close(0);
        }
        await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount == 0 && fixture.Server.DisconnectedRequests > disconnected, TimeSpan.FromSeconds(10));
        Assert.Equal(0, fixture.Scheduler.ActiveCount);
        // The server saw the client leave before the 480 tokens were done: the row was freed by the cancellation.
        Assert.Equal(disconnected + 1, fixture.Server.DisconnectedRequests);

        // A client giving up on a non-streamed request frees its row too.
        using (var cancel = new CancellationTokenSource())
        {
            var waiting = fixture.Http.PostAsync(Completions, Api.Json(Api.CompletionBody(ServerFixture.AdapterName, "Once upon a time", 480)), cancel.Token);
            await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount == 1, TimeSpan.FromSeconds(10));
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }
        await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount == 0 && fixture.Server.DisconnectedRequests > disconnected + 1, TimeSpan.FromSeconds(10));
        Assert.Equal(0, fixture.Scheduler.ActiveCount);
        Assert.Equal(disconnected + 2, fixture.Server.DisconnectedRequests);
        Assert.Equal(fixture.IdleTensors, await fixture.SettledTensors());
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal)) count++;
        return count;
    }

    [Fact]
    public async Task TwoHundredConcurrentRequestsAllCompleteWithCorrectShapes()
    {
        string[] models = ["base", ServerFixture.Folder, ServerFixture.AdapterName];
        string[] prompts = ["Once upon a time", "Lily", "The dog"];
        // What each (model, prompt) answers alone, through the scheduler, for both endpoints.
        var expected = new Dictionary<(string, string, bool), string>();
        foreach (var model in models)
        foreach (var prompt in prompts)
        {
            expected[(model, prompt, false)] = (await fixture.Scheduler.GenerateAsync(fixture.Request(prompt, model, 8))).Text;
            var chatPrompt = MixLora.Data.PromptTemplate.Alpaca.Render(prompt, input: null).Prompt;
            expected[(model, prompt, true)] = (await fixture.Scheduler.GenerateAsync(fixture.Request(chatPrompt, model, 8))).Text;
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            string model = models[i % 3], prompt = prompts[i / 3 % 3];
            bool chat = i % 4 < 2, stream = i % 2 == 0;
            var route = chat ? Chat : Completions;
            var body = chat ? Api.ChatBody(model, prompt, 8, stream) : Api.CompletionBody(model, prompt, 8, stream);
            string text;
            if (stream)
            {
                var (status, contentType, events) = await Api.PostStream(fixture.Http, route, body);
                Assert.Equal(200, status);
                Assert.Equal("text/event-stream", contentType);
                Assert.Equal("[DONE]", events[^1]);
                var last = JsonDocument.Parse(events[^2]).RootElement;
                Assert.Equal(chat ? "chat.completion.chunk" : "text_completion", last.GetProperty("object").GetString());
                Assert.Equal(model, last.GetProperty("model").GetString());
                Assert.NotNull(last.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
                text = Api.StreamedText(events);
            }
            else
            {
                var (status, response) = await Api.Post(fixture.Http, route, body);
                Assert.Equal(200, status);
                Assert.Equal(chat ? "chat.completion" : "text_completion", response.GetProperty("object").GetString());
                Assert.Equal(model, response.GetProperty("model").GetString());
                var choice = response.GetProperty("choices")[0];
                text = chat ? choice.GetProperty("message").GetProperty("content").GetString()! : choice.GetProperty("text").GetString()!;
                Assert.True(response.GetProperty("usage").GetProperty("completion_tokens").GetInt32() is > 0 and <= 8);
            }
            return (Expected: expected[(model, prompt, chat)], Text: text);
        }));

        Assert.All(results, r => Assert.Equal(r.Expected, r.Text));
        Assert.Equal(fixture.IdleTensors, await fixture.SettledTensors());
    }

    [Fact]
    public async Task ApiKeyIsRequiredWhenSet()
    {
        await using var server = await fixture.StartServer(new MixLoraServerOptions { Port = 0, ApiKey = "sk-test-123" });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var (status, body) = await Api.Get(http, "v1/models");
        Assert.Equal(401, status);
        Assert.Equal(("invalid_request_error", "invalid_api_key"), (Api.Error(body).Type, Api.Error(body).Code));
        (status, _) = await Api.Get(http, "v1/models", key: "sk-wrong");
        Assert.Equal(401, status);
        (status, _) = await Api.Post(http, Chat, Api.ChatBody("base", "Hi", 4));
        Assert.Equal(401, status);
        (status, _) = await Api.Get(http, "v1/models", key: "sk-test-123");
        Assert.Equal(200, status);
        (status, _) = await Api.Post(http, Chat, Api.ChatBody("base", "Hi", 4), key: "sk-test-123");
        Assert.Equal(200, status);
        (status, _) = await Api.Get(http, "health");
        Assert.Equal(200, status);

        var sdk = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-test-123"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
        Assert.NotEmpty((await sdk.GetOpenAIModelClient().GetModelsAsync()).Value);
        var wrong = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-nope"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
        Assert.Equal(401, (await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => wrong.GetOpenAIModelClient().GetModelsAsync())).Status);
    }

    [Fact]
    public async Task StopAsyncWhileStreamingEndsTheStreamCleanly()
    {
        // Grace period zero: the stream in flight is cancelled at once and ends with an error event and [DONE].
        var server = await fixture.StartServer(new MixLoraServerOptions { Port = 0, ShutdownGracePeriod = TimeSpan.Zero });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, Completions) { Content = Api.Json(Api.CompletionBody(ServerFixture.AdapterName, "Once upon a time", 480, stream: true)) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (events.Count < 3 && await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line[6..]);
        var clock = Stopwatch.StartNew();
        await server.StopAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"StopAsync took {clock.Elapsed}");
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line[6..]);
        Assert.Equal("[DONE]", events[^1]);
        var error = Api.Error(JsonDocument.Parse(events[^2]).RootElement);
        Assert.Equal(("server_error", "server_shutting_down"), (error.Type, error.Code));
        await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount == 0, TimeSpan.FromSeconds(5));
        Assert.Equal(0, fixture.Scheduler.ActiveCount);
        Assert.False(server.IsRunning);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("health"));
        await server.DisposeAsync();

        // A grace period long enough: the stream in flight finishes normally.
        server = await fixture.StartServer(new MixLoraServerOptions { Port = 0, ShutdownGracePeriod = TimeSpan.FromSeconds(30) });
        using var http2 = new HttpClient { BaseAddress = server.BaseAddress };
        var streaming = Api.PostStream(http2, Completions, Api.CompletionBody(ServerFixture.AdapterName, "Once upon a time", 30, stream: true));
        await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount > 0, TimeSpan.FromSeconds(10));
        Assert.Equal(1, fixture.Scheduler.ActiveCount);
        await server.DisposeAsync();
        var (status, _, finished) = await streaming;
        Assert.Equal(200, status);
        Assert.Equal("[DONE]", finished[^1]);
        Assert.DoesNotContain(finished, e => e.Contains("\"error\""));
        Assert.NotNull(JsonDocument.Parse(finished[^2]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        await ServerFixture.WaitUntil(() => fixture.Scheduler.ActiveCount == 0, TimeSpan.FromSeconds(5));
        Assert.Equal(0, fixture.Scheduler.ActiveCount);
    }

    [Fact]
    public async Task AFormatterFailureIsA500WithoutAStackTrace()
    {
        await using var server = await fixture.StartServer(new MixLoraServerOptions
        {
            Port = 0,
            EncodeChat = (_, _) => throw new InvalidOperationException("the template broke"),
        });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var (status, body) = await Api.Post(http, Chat, Api.ChatBody("base", "Hi", 4));
        Assert.Equal(500, status);
        var error = Api.Error(body);
        Assert.Equal("server_error", error.Type);
        Assert.Contains("the template broke", error.Message);
        Assert.DoesNotContain(" at ", error.Message);
    }
}
