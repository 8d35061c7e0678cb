using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MixLora.Tokenization;

namespace MixLora.Serving.Http;

/// <summary>
/// An OpenAI-compatible HTTP server (Kestrel, minimal APIs) in front of a <see cref="GenerationScheduler"/>:
/// <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c> (both streamed as server-sent events on request),
/// <c>GET /v1/models</c>, <c>GET /health</c> and a chat page at <c>GET /</c>. The server does not own the scheduler:
/// dispose the scheduler after the server.
/// </summary>
public sealed class MixLoraServer : IAsyncDisposable
{
    private readonly GenerationScheduler _scheduler;
    private readonly ITextTokenizer _tokenizer;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private WebApplication? _app;
    private CompletionEndpoints? _completions;
    private Uri? _baseAddress;
    private volatile bool _stopping;
    private bool _stopped;

    /// <param name="tokenizer">The tokenizer of the scheduler's model (prompts are encoded with it).</param>
    public MixLoraServer(GenerationScheduler scheduler, ITextTokenizer tokenizer, MixLoraServerOptions? options = null)
    {
        _scheduler = scheduler;
        _tokenizer = tokenizer;
        Options = options ?? new MixLoraServerOptions();
        Options.Validate();
    }

    public MixLoraServerOptions Options { get; }

    /// <summary>
    /// The address the server listens on, e.g. http://127.0.0.1:8080/ (the port actually bound when
    /// <see cref="MixLoraServerOptions.Port"/> is 0). The OpenAI API is under <c>BaseAddress + "v1"</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server has not started.</exception>
    public Uri BaseAddress => _baseAddress ?? throw new InvalidOperationException("the server has not been started");

    /// <summary>
    /// Completion requests whose client disconnected before the answer was complete; each one's sequence was cancelled
    /// and its row freed (for monitoring and tests).
    /// </summary>
    public long DisconnectedRequests => _completions?.Disconnected ?? 0;

    /// <summary>Whether the server was started and not yet stopped.</summary>
    public bool IsRunning => _app is not null && !_stopping;

    /// <summary>Binds the address and starts answering requests.</summary>
    /// <exception cref="MixLoraException">The address cannot be bound (port in use, unknown host, …).</exception>
    public async Task StartAsync(CancellationToken cancellation = default)
    {
        await _lifecycle.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (_stopped) throw new InvalidOperationException("a stopped server cannot be started again; create a new one");
            if (_app is not null) return;
            var app = Build();
            try
            {
                await app.StartAsync(cancellation).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                throw new MixLoraException($"cannot listen on {Options.Host}:{Options.Port}: {e.Message}", e);
            }
            var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new MixLoraException("the server started but reports no address");
            _baseAddress = new Uri(bound.EndsWith('/') ? bound : bound + "/");
            _app = app;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Drains and stops the server. It stops accepting connections at once (a request that still arrives on an open
    /// connection gets 503); requests in flight have <see cref="MixLoraServerOptions.ShutdownGracePeriod"/> to finish.
    /// After that, or as soon as <paramref name="cancellation"/> is cancelled, their generation is cancelled and they
    /// end at once: a non-streamed request with a 503 error, a stream with an error event and <c>data: [DONE]</c>.
    /// Every row they held in the scheduler is freed. Returns when no request is left.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellation = default)
    {
        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_app is not { } app || _stopped) return;
            _stopping = true;
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            grace.CancelAfter(Options.ShutdownGracePeriod);
            using (grace.Token.Register(_shutdown.Cancel))
            {
                // Kestrel waits for the requests in flight; cancelled generations end them soon after the grace period.
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            _stopped = true;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the server (see <see cref="StopAsync"/>) and releases it. The scheduler stays open.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_app is not null) await _app.DisposeAsync().ConfigureAwait(false);
        _app = null;
        _stopped = true;
        _shutdown.Dispose();
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(MixLoraServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();               // the library prints nothing; the CLI says what it serves
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();   // Ctrl-C belongs to the application, not to the server
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Options.ShutdownGracePeriod + TimeSpan.FromSeconds(30));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, Options.Host, Options.Port);
        });
        var app = builder.Build();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var completions = _completions = new CompletionEndpoints(_scheduler, _tokenizer, Options, _shutdown.Token);

        app.Use(ErrorResponses.Middleware);
        app.Use(async (context, next) =>
        {
            if (_stopping) throw ApiException.ShuttingDown();
            if (Options.ApiKey is { } key && context.Request.Path.StartsWithSegments("/v1")) BearerAuthentication.Require(context, key);
            await next(context);
        });
        app.MapPost("/v1/chat/completions", new RequestDelegate(completions.Chat));
        app.MapPost("/v1/completions", new RequestDelegate(completions.Completion));
        app.MapGet("/v1/models", context => Json(context, OpenAiJson.Models(_scheduler.ModelNames, created)));
        app.MapGet("/health", context => Json(context, OpenAiJson.Health(_scheduler.ActiveCount, _scheduler.ModelNames)));
        app.MapGet("/", IndexPage.Serve);
        app.MapFallback("{*path}", context =>
            throw new ApiException(404, $"unknown request URL: {context.Request.Method} {context.Request.Path}", "invalid_request_error", code: "unknown_url"));
        return app;
    }

    private static Task Json(HttpContext context, byte[] body)
    {
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    private static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, string host, int port)
    {
        var name = host.Trim('[', ']');
        if (name == "*") kestrel.ListenAnyIP(port);
        else if (IPAddress.TryParse(name, out var address)) kestrel.Listen(address, port);
        else if (string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel picks no free port for "localhost" (two addresses); port 0 binds the IPv4 loopback alone.
            if (port == 0) kestrel.Listen(IPAddress.Loopback, 0);
            else kestrel.ListenLocalhost(port);
        }
        else throw new MixLoraException($"the host \"{host}\" is not an IP address, localhost or *");
    }

    /// <summary>Whether <paramref name="host"/> is an address <see cref="MixLoraServerOptions.Host"/> accepts.</summary>
    public static bool IsValidHost(string host)
    {
        var name = host.Trim('[', ']');
        return name == "*" || string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(name, out _);
    }

    /// <summary>Whether <paramref name="host"/> (as <see cref="MixLoraServerOptions.Host"/> takes it) is reachable from this machine only.</summary>
    public static bool IsLoopback(string host)
    {
        var name = host.Trim('[', ']');
        return string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)
               || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));
    }

    /// <summary>The host's lifetime without console signal handling: the server starts and stops when told to.</summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
