using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MixLora.Adapters;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Serving;
using MixLora.Serving.Http;
using MixLora.Tests.Support;

namespace MixLora.Tests.Serving.Http;

/// <summary>
/// One server for the HTTP tests: the bundled stories260K as "base" and "stories260K-hf", the golden MixLoRA adapter
/// as "moe", on a free loopback port. Tests that need other server options start servers of their own on the same
/// scheduler.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string AdapterName = "moe";
    public const string Folder = "stories260K-hf";

    public PretrainedModel Model { get; private set; } = null!;
    public Adapter MoeAdapter { get; private set; } = null!;
    public GenerationScheduler Scheduler { get; private set; } = null!;
    public MixLoraServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    /// <summary>TorchSharp tensors alive on the scheduler thread when it is idle, after a warm-up.</summary>
    public long IdleTensors { get; private set; }

    public Uri V1 => new(Server.BaseAddress, "v1");

    public async Task InitializeAsync()
    {
        Model = Stories260K.Load();
        MoeAdapter = Adapter.Load(Model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        Scheduler = new GenerationScheduler(Model, new Dictionary<string, Adapter> { [AdapterName] = MoeAdapter },
            new SchedulerOptions { MaxBatch = 32, BaseNames = [Folder] });
        Server = await StartServer(new MixLoraServerOptions { Port = 0 });
        Http = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        // Warm-up: the scheduler creates some tensors lazily on its first steps (one row, then a full batch).
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Scheduler.GenerateAsync(Request("Once upon a time", i % 2 == 0 ? "base" : AdapterName, 8))));
        await Scheduler.GenerateAsync(Request("Once upon a time", "base", 8));
        IdleTensors = await SettledTensors();
    }

    /// <summary>A started server on this fixture's scheduler (port 0 unless <paramref name="options"/> says otherwise).</summary>
    public async Task<MixLoraServer> StartServer(MixLoraServerOptions options)
    {
        var server = new MixLoraServer(Scheduler, Model.Tokenizer, options);
        await server.StartAsync();
        return server;
    }

    /// <summary>A greedy scheduler request for <paramref name="prompt"/> (the text exactly as the model sees it).</summary>
    public GenerationRequest Request(string prompt, string model, int maxTokens) => new()
    {
        PromptIds = PromptEncoding.Encode(Model.Tokenizer, prompt),
        Model = model,
        Sampling = new SamplingOptions { Temperature = 0, TopP = 1, TopK = 0, MaxNewTokens = maxTokens },
    };

    /// <summary>Waits until no sequence is active, then returns the scheduler's live tensor count.</summary>
    public async Task<long> SettledTensors()
    {
        await WaitUntil(() => Scheduler.ActiveCount == 0, TimeSpan.FromSeconds(10));
        await Task.Delay(100);
        return Scheduler.LiveTensors;
    }

    public static async Task WaitUntil(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(10);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Scheduler.Dispose();
        MoeAdapter.Dispose();
        Model.Dispose();
    }
}

[CollectionDefinition(nameof(HttpServerCollection), DisableParallelization = true)]
public class HttpServerCollection : ICollectionFixture<ServerFixture>;

/// <summary>Raw HTTP calls and their JSON.</summary>
public static class Api
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(int Status, JsonElement Body)> Post(HttpClient http, string path, string json, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public static async Task<(int Status, JsonElement Body)> Get(HttpClient http, string path, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>The events of a server-sent event stream: each "data: " payload, in order ("[DONE]" included).</summary>
    public static async Task<(int Status, string ContentType, List<string> Events)> PostStream(HttpClient http, string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line["data: ".Length..]);
            else Assert.Equal("", line);
        }
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "", events);
    }

    /// <summary>The text a stream's chunks add up to (chat deltas or completion texts).</summary>
    public static string StreamedText(IEnumerable<string> events) => string.Concat(events.Where(e => e != "[DONE]").Select(e =>
    {
        var choices = JsonDocument.Parse(e).RootElement.GetProperty("choices");
        if (choices.GetArrayLength() == 0) return "";
        var choice = choices[0];
        return choice.TryGetProperty("delta", out var delta)
            ? delta.TryGetProperty("content", out var content) ? content.GetString() : ""
            : choice.GetProperty("text").GetString();
    }));

    /// <summary>The error object of an error response: (message, type, param, code).</summary>
    public static (string Message, string Type, string? Param, string? Code) Error(JsonElement body)
    {
        var error = body.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name));
        return (error.GetProperty("message").GetString()!, error.GetProperty("type").GetString()!,
                error.GetProperty("param").GetString(), error.GetProperty("code").GetString());
    }

    public static string ChatBody(string model, string content, int maxTokens, bool stream = false, string extra = "") =>
        $$"""{"model": "{{model}}", "messages": [{"role": "user", "content": {{JsonSerializer.Serialize(content)}}}], "temperature": 0, "max_tokens": {{maxTokens}}, "stream": {{(stream ? "true" : "false")}}{{extra}}}""";

    public static string CompletionBody(string model, string prompt, int maxTokens, bool stream = false, string extra = "") =>
        $$"""{"model": "{{model}}", "prompt": {{JsonSerializer.Serialize(prompt)}}, "temperature": 0, "max_tokens": {{maxTokens}}, "stream": {{(stream ? "true" : "false")}}{{extra}}}""";
}
