using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MixLora.Tests.Serving.Web;

/// <summary>
/// Issue 12, the chat page (src/MixLora/Serving/Http/wwwroot/index.html) in a real headless chromium: the model picker
/// fills from /v1/models, the settings and the conversation go out as an OpenAI chat request, the streamed reply is
/// shown as it comes, Stop ends a stream, New chat starts over, and the server's error message is shown.
/// The page talks to <see cref="StartServerAsync"/>'s server; the assertions take their expected text from it.
/// </summary>
[Trait("Category", "Browser")]
public class ChatPageTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const string ChatPath = "/v1/chat/completions";

    /// <summary>
    /// The stand-in server: its replies stream as slowly as a test needs and it records requests (the Stop and error
    /// tests). The conversation test runs against the real server (<see cref="RealChatServer"/>).
    /// </summary>
    private static async Task<IChatServer> StartServerAsync() => await FakeChatServer.StartAsync();

    /// <summary>Opens the page in a fresh context and waits for the model picker to list the server's models.</summary>
    private async Task<(IBrowserContext, IPage, List<string>)> OpenAsync(IChatServer server)
    {
        var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = new List<string>();                  // script errors and failed console messages
        page.PageError += (_, error) => problems.Add("page error: " + error);
        page.Console += (_, message) =>
        {
            // The error test's 400 is logged by chromium as a failed resource; that one is expected.
            if (message.Type == "error" && !message.Text.Contains("400")) problems.Add($"console: {message.Text} ({message.Location})");
        };
        await page.GotoAsync(server.BaseUrl.ToString());
        await Expect(page).ToHaveTitleAsync("MixLora.NET chat");
        await Expect(page.Locator("#model")).ToHaveAttributeAsync("data-loaded", "true");
        await Expect(page.Locator("#model option")).ToHaveCountAsync(server.ModelIds.Count);
        Assert.Equal(server.ModelIds, await page.Locator("#model option").EvaluateAllAsync<string[]>("os => os.map(o => o.value)"));
        return (context, page, problems);
    }

    /// <summary>Runs <paramref name="action"/> (which sends a message) and returns the chat request's JSON body.</summary>
    private static async Task<(JsonElement Body, IRequest Request)> SendAsync(IPage page, Func<Task> action)
    {
        var request = await page.RunAndWaitForRequestAsync(action, r => r.Method == "POST" && new Uri(r.Url).AbsolutePath == ChatPath);
        return (request.PostDataJSON() ?? throw new InvalidOperationException("The chat request has no JSON body."), request);
    }

    private static List<ChatTurn> Messages(JsonElement body) =>
        [.. body.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))];

    /// <summary>Waits for the last assistant message's stream to end and returns its text.</summary>
    /// <param name="finish">The finish reason expected, or null for "stop" or "length" (a real model may run out of tokens).</param>
    private static async Task<string> LastReplyAsync(IPage page, string? finish = "stop")
    {
        var reply = page.Locator(".msg.assistant").Last;
        await Expect(reply).ToHaveAttributeAsync("data-done", "true");
        if (finish is null) await Expect(reply).ToHaveAttributeAsync("data-finish", new Regex("^(stop|length)$"));
        else await Expect(reply).ToHaveAttributeAsync("data-finish", finish);
        return await reply.TextContentAsync() ?? "";
    }

    private static async Task ExpectIdleAsync(IPage page)
    {
        await Expect(page.Locator("#send")).ToBeEnabledAsync();
        await Expect(page.Locator("#stop")).ToBeDisabledAsync();
        await Expect(page.Locator("#model")).ToBeEnabledAsync();
    }

    [Fact]
    public async Task SendStreamsTheReplyWithTheChosenModelAndSettingsAndKeepsTheHistory()
    {
        // The real `mixlora serve` stack: the streamed text must equal the API's greedy answer to the same request.
        await using IChatServer server = await RealChatServer.StartAsync();
        var (context, page, problems) = await OpenAsync(server);
        await using var _ = context;
        string model = server.ModelIds[^1];                                   // the MixLoRA adapter
        await page.SelectOptionAsync("#model", model);
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#top-p", "0.5");
        await page.FillAsync("#top-k", "7");
        await page.FillAsync("#max-tokens", "40");
        await page.FillAsync("#prompt", "Tell me a story.");

        var (body, _) = await SendAsync(page, () => page.ClickAsync("#send"));
        string first = await LastReplyAsync(page, finish: null);
        List<ChatTurn> turns = [new("user", "Tell me a story.")];
        Assert.Equal(server.ExpectedReply(model, turns, 40), first);
        Assert.Equal(model, body.GetProperty("model").GetString());
        Assert.Equal(turns, Messages(body));
        Assert.Equal(0.0, body.GetProperty("temperature").GetDouble());
        Assert.Equal(0.5, body.GetProperty("top_p").GetDouble());
        Assert.Equal(7, body.GetProperty("top_k").GetInt32());
        Assert.Equal(40, body.GetProperty("max_tokens").GetInt32());
        Assert.True(body.GetProperty("stream").GetBoolean());
        if (server is FakeChatServer fake) Assert.Equal(body.GetRawText(), Assert.Single(fake.ChatRequests).GetRawText());
        await ExpectIdleAsync(page);
        await Expect(page.Locator("#prompt")).ToHaveValueAsync("");

        // Second turn from the keyboard: Shift+Enter adds a line, Enter sends; the history goes along.
        await page.FocusAsync("#prompt");
        await page.Keyboard.TypeAsync("And then?");
        await page.Keyboard.PressAsync("Shift+Enter");
        await page.Keyboard.TypeAsync("Go on.");
        var (second, _) = await SendAsync(page, () => page.Keyboard.PressAsync("Enter"));
        turns = [.. turns, new("assistant", first), new("user", "And then?\nGo on.")];
        Assert.Equal(turns, Messages(second));
        Assert.Equal(server.ExpectedReply(model, turns, 40), await LastReplyAsync(page, finish: null));
        Assert.Equal(new[] { "Tell me a story.", "And then?\nGo on." }, await page.Locator(".msg.user").AllTextContentsAsync());
        Assert.Equal(2, await page.Locator(".msg.assistant").CountAsync());

        // New chat: the conversation view and the history are empty again.
        await page.ClickAsync("#reset");
        await Expect(page.Locator(".msg")).ToHaveCountAsync(0);
        await page.FillAsync("#prompt", "Hello");
        var (third, _) = await SendAsync(page, () => page.ClickAsync("#send"));
        Assert.Equal(new[] { new ChatTurn("user", "Hello") }, Messages(third));
        Assert.Equal(server.ExpectedReply(model, Messages(third), 40), await LastReplyAsync(page, finish: null));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task StopEndsASlowStreamAndTheChatGoesOn()
    {
        await using var server = await StartServerAsync();
        var fake = server as FakeChatServer;
        if (fake != null) fake.ChunkDelay = TimeSpan.FromMilliseconds(60);
        var (context, page, problems) = await OpenAsync(server);
        await using var _ = context;
        string model = server.ModelIds[0];
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max-tokens", "4000");
        await page.FillAsync("#prompt", server.SlowPrompt);
        await SendAsync(page, () => page.ClickAsync("#send"));

        var reply = page.Locator(".msg.assistant").Last;
        await Expect(reply).ToHaveTextAsync(new Regex(@"\S+ \S+ \S+"));   // a few chunks in
        await Expect(page.Locator("#send")).ToBeDisabledAsync();
        await page.ClickAsync("#stop");
        string stopped = await LastReplyAsync(page, finish: "stopped");
        Assert.NotEmpty(stopped);
        if (fake != null)
        {
            // The fetch was really aborted: the server saw its client go, so nothing more can arrive.
            await fake.StreamAborted.WaitAsync(TimeSpan.FromMilliseconds(ChromiumFixture.TimeoutMs));
            Assert.DoesNotContain("5000", stopped);
            fake.ChunkDelay = TimeSpan.FromMilliseconds(2);
        }
        Assert.Equal(stopped, await reply.TextContentAsync());
        await ExpectIdleAsync(page);

        // The page is usable again, and the stopped (partial) reply is part of the history.
        await page.FillAsync("#prompt", "Thanks, that is enough.");
        var (body, _) = await SendAsync(page, () => page.ClickAsync("#send"));
        List<ChatTurn> turns = [new("user", server.SlowPrompt), new("assistant", stopped), new("user", "Thanks, that is enough.")];
        Assert.Equal(turns, Messages(body));
        Assert.Equal(server.ExpectedReply(model, turns, 4000), await LastReplyAsync(page));
        Assert.Equal(stopped, await page.Locator(".msg.assistant").First.TextContentAsync());
        await ExpectIdleAsync(page);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task AnErrorResponseShowsTheServersMessageAndKeepsThePrompt()
    {
        await using var server = await StartServerAsync();
        var (context, page, problems) = await OpenAsync(server);
        await using var _ = context;
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#top-p", "5");
        await page.FillAsync("#prompt", "Hi there");
        await SendAsync(page, () => page.ClickAsync("#send"));

        await Expect(page.Locator("#error")).ToContainTextAsync("top_p");
        await Expect(page.Locator("#error")).ToBeVisibleAsync();
        await Expect(page.Locator(".msg")).ToHaveCountAsync(0);                  // the failed turn is taken back…
        await Expect(page.Locator("#prompt")).ToHaveValueAsync("Hi there");      // …and its text is ready to resend
        await ExpectIdleAsync(page);

        await page.FillAsync("#top-p", "1");
        var (body, _) = await SendAsync(page, () => page.ClickAsync("#send"));
        Assert.Equal(new[] { new ChatTurn("user", "Hi there") }, Messages(body));
        Assert.Equal(server.ExpectedReply(server.ModelIds[0], Messages(body), 256), await LastReplyAsync(page));
        await Expect(page.Locator("#error")).ToBeEmptyAsync();
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task TheApiKeyIsSentAsABearerTokenAndRemembered()
    {
        await using var server = await StartServerAsync();
        var (context, page, problems) = await OpenAsync(server);
        await using var _ = context;
        var models = await page.RunAndWaitForRequestAsync(async () =>
        {
            await page.FillAsync("#api-key", "sk-test-123");
            await page.Locator("#api-key").DispatchEventAsync("change");   // a new key reloads the model list
        }, r => new Uri(r.Url).AbsolutePath == "/v1/models");
        Assert.Equal("Bearer sk-test-123", await models.HeaderValueAsync("authorization"));

        await page.ReloadAsync();
        await Expect(page.Locator("#api-key")).ToHaveValueAsync("sk-test-123");
        await Expect(page.Locator("#model option")).ToHaveCountAsync(server.ModelIds.Count);
        await page.FillAsync("#prompt", "Hi");
        var (_, request) = await SendAsync(page, () => page.ClickAsync("#send"));
        Assert.Equal("Bearer sk-test-123", await request.HeaderValueAsync("authorization"));
        await LastReplyAsync(page);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
