using System.Net.Http.Json;
using System.Text.Json;
using MixLora.Adapters;
using MixLora.IO;
using MixLora.Serving;
using MixLora.Serving.Http;
using MixLora.Tests.Support;

namespace MixLora.Tests.Serving.Web;

/// <summary>
/// `mixlora serve` as the page's server: the bundled stories260K and the golden MixLoRA adapter ("moe") behind
/// MixLoraServer on a free loopback port. The expected reply is the API's own greedy answer to the same request.
/// </summary>
public sealed class RealChatServer : IChatServer
{
    private readonly PretrainedModel _model;
    private readonly Adapter _adapter;
    private readonly GenerationScheduler _scheduler;
    private readonly MixLoraServer _server;
    private readonly HttpClient _http;

    private RealChatServer(PretrainedModel model, Adapter adapter, GenerationScheduler scheduler, MixLoraServer server)
    {
        _model = model;
        _adapter = adapter;
        _scheduler = scheduler;
        _server = server;
        _http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public static async Task<RealChatServer> StartAsync()
    {
        var model = Stories260K.Load();
        var adapter = Adapter.Load(model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"));
        var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = adapter });
        var server = new MixLoraServer(scheduler, model.Tokenizer, new MixLoraServerOptions { Port = 0 });
        await server.StartAsync();
        return new RealChatServer(model, adapter, scheduler, server);
    }

    public Uri BaseUrl => _server.BaseAddress;

    public IReadOnlyList<string> ModelIds => _scheduler.ModelNames;

    public string SlowPrompt => "Once upon a time";

    public string ExpectedReply(string model, IReadOnlyList<ChatTurn> messages, int maxTokens)
    {
        var body = new { model, messages = messages.Select(m => new { role = m.Role, content = m.Content }), temperature = 0, max_tokens = maxTokens };
        using var response = _http.PostAsJsonAsync("v1/chat/completions", body).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _scheduler.Dispose();
        _adapter.Dispose();
        _model.Dispose();
    }
}
