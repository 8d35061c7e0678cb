using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MixLora.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MixLora.Tests.Serving.Web;

/// <summary>
/// A stand-in for `mixlora serve` (Kestrel, minimal API): the page is read from the repository on each GET /, two
/// models are served, and a chat completion streams <see cref="ReplyFor"/> as server-sent events, a few characters
/// per event, each event written in two flushes that split a line (and, where the reply has one, a UTF-8 character),
/// <see cref="ChunkDelay"/> apart. Requests that ask for an endless reply (<see cref="EndlessPrompt"/>) stream until
/// the client goes away. Bad sampling values get a 400 with an OpenAI-shaped error, like the real server.
/// </summary>
public sealed class FakeChatServer : IChatServer
{
    /// <summary>A prompt that makes the reply go on (bounded: a few thousand events) until the client disconnects.</summary>
    public const string EndlessPrompt = "Count forever, please.";

    private static readonly string[] Models = ["tiny-base", "tiny-adapter-αβ"];
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<JsonElement> _chatRequests = new();
    private readonly TaskCompletionSource _streamAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Non-ASCII text as UTF-8 bytes rather than \u escapes, so that the stream has characters to split.
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private FakeChatServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<string> ModelIds => Models;

    public string SlowPrompt => EndlessPrompt;

    /// <summary>The pause between two flushes of the stream; tests may change it between requests.</summary>
    public TimeSpan ChunkDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The JSON bodies of the POST /v1/chat/completions requests received so far, in order.</summary>
    public IReadOnlyList<JsonElement> ChatRequests => [.. _chatRequests];

    /// <summary>Completes when a client disconnected in the middle of a streamed reply.</summary>
    public Task StreamAborted => _streamAborted.Task;

    /// <summary>The path of the page in the repository.</summary>
    public static string PagePath =>
        Path.Combine(RepoPaths.Root, "src", "MixLora", "Serving", "Http", "wwwroot", "index.html");

    public static async Task<FakeChatServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeChatServer(app);
        app.MapGet("/", () => Results.Text(File.ReadAllText(PagePath), "text/html; charset=utf-8"));
        app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = Models.Select(id => new { id, @object = "model", owned_by = "mixlora" }),
        }));
        app.MapPost("/v1/chat/completions", (RequestDelegate)server.ChatCompletionsAsync);
        await app.StartAsync();
        server.BaseUrl = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return server;
    }

    public string ExpectedReply(string model, IReadOnlyList<ChatTurn> messages, int maxTokens) => ReplyFor(model, messages);

    /// <summary>The reply to a conversation: names the model, quotes the last user turn, counts the turns.</summary>
    public static string ReplyFor(string model, IReadOnlyList<ChatTurn> messages)
    {
        string last = messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
        return $"Hello from {model}! You said “{last}” — turn {messages.Count(m => m.Role == "user")}.\n" +
               "Ünïcödé survives split reads: naïve café, 日本語, ✓.";
    }

    private async Task ChatCompletionsAsync(HttpContext ctx)
    {
        JsonElement body;
        try { body = (await JsonDocument.ParseAsync(ctx.Request.Body)).RootElement.Clone(); }
        catch (JsonException e) { await ErrorAsync(ctx, 400, "Invalid JSON: " + e.Message, null); return; }
        _chatRequests.Enqueue(body);

        string model = body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
        if (!Models.Contains(model)) { await ErrorAsync(ctx, 404, $"The model '{model}' does not exist.", "model"); return; }
        if (body.TryGetProperty("top_p", out var topP) && !(topP.GetDouble() > 0 && topP.GetDouble() <= 1))
        {
            await ErrorAsync(ctx, 400, $"top_p must be in (0, 1], got {topP.GetDouble()}", "top_p");
            return;
        }
        var messages = body.GetProperty("messages").EnumerateArray()
            .Select(t => new ChatTurn(t.GetProperty("role").GetString()!, t.GetProperty("content").GetString()!)).ToList();
        bool endless = messages.LastOrDefault(t => t.Role == "user")?.Content == EndlessPrompt;

        ctx.Response.ContentType = "text/event-stream; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-cache";
        var aborted = ctx.RequestAborted;
        try
        {
            await EventAsync(ctx, new { role = "assistant", content = "" }, null, aborted);
            if (endless)
            {
                for (int i = 1; i <= 5000; i++) await EventAsync(ctx, new { content = $"{i} " }, null, aborted);
            }
            else
            {
                string reply = ReplyFor(model, messages);
                for (int i = 0; i < reply.Length;)
                {
                    int end = Math.Min(reply.Length, i + 7);
                    if (end < reply.Length && char.IsHighSurrogate(reply[end - 1])) end++;
                    await EventAsync(ctx, new { content = reply[i..end] }, null, aborted);
                    i = end;
                }
            }
            await EventAsync(ctx, new { }, "stop", aborted);
            await WriteAsync(ctx, "data: [DONE]\n\n", aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            _streamAborted.TrySetResult();
        }
    }

    private async Task EventAsync(HttpContext ctx, object delta, string? finishReason, CancellationToken aborted)
    {
        string json = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-fake", @object = "chat.completion.chunk", created = 0, model = "fake",
            choices = new[] { new { index = 0, delta, finish_reason = finishReason } },
        }, JsonOptions);
        await WriteAsync(ctx, $"data: {json}\n\n", aborted);
    }

    /// <summary>Writes a piece of the stream in two flushes, the first ending inside a UTF-8 character when it can.</summary>
    private async Task WriteAsync(HttpContext ctx, string text, CancellationToken aborted)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        int split = bytes.Length / 2;
        int inside = Array.FindIndex(bytes, b => b >= 0xC0);           // a multi-byte character's lead byte
        if (inside >= 0) split = inside + 1;
        await ctx.Response.Body.WriteAsync(bytes.AsMemory(0, split), aborted);
        await ctx.Response.Body.FlushAsync(aborted);
        await Task.Delay(ChunkDelay, aborted);
        await ctx.Response.Body.WriteAsync(bytes.AsMemory(split), aborted);
        await ctx.Response.Body.FlushAsync(aborted);
        await Task.Delay(ChunkDelay, aborted);
    }

    private static Task ErrorAsync(HttpContext ctx, int status, string message, string? param)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new
        {
            error = new { message, type = "invalid_request_error", param, code = (string?)null },
        });
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5))) await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
