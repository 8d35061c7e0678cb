using System.CommandLine;
using System.Runtime.InteropServices;
using MixLora.IO;
using MixLora.Serving;
using MixLora.Serving.Http;

namespace MixLora.Cli.Commands;

/// <summary>
/// `mixlora serve`: an OpenAI-compatible HTTP server for the base model and any number of adapters, all decoded in
/// the same continuous batch. Runs until Ctrl-C or SIGTERM, then lets requests in flight finish and exits 0.
/// </summary>
public static class ServeCommand
{
    /// <param name="stop">Stops the server instead of Ctrl-C/SIGTERM (for running the command in-process).</param>
    public static Command Create(CliConsole console, CancellationToken? stop = null)
    {
        var common = new CommonOptions();
        var served = new ServedModelsCli();
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on: an IP address, localhost or * (all addresses). Anything but loopback is reachable from other machines.",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => 8080 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences decoded together (all models share the batch); further requests wait.", DefaultValueFactory = _ => 32 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated when a request gives no max_tokens (lowered to what the context has left).", DefaultValueFactory = _ => 256 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require \"Authorization: Bearer KEY\" on every /v1 request." };

        var command = new Command("serve", "Serve the base model and adapters over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models).")
        {
            host, port, maxBatch, maxTokens, apiKey,
        };
        common.AddTo(command);
        served.AddTo(command);
        command.SetAction(parse =>
        {
            var serverOptions = new MixLoraServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey),
                MaxTokensDefault = parse.GetValue(maxTokens),
            };
            if (serverOptions.MaxTokensDefault < 1) throw new MixLoraException($"--max-tokens must be at least 1, got {serverOptions.MaxTokensDefault}");
            serverOptions.Validate();
            int batch = parse.GetValue(maxBatch);
            if (batch < 1) throw new MixLoraException($"--max-batch must be at least 1, got {batch}");
            served.Specs(parse);                                      // name clashes fail before the model loads
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            using var models = served.Load(parse, model, batch);
            console.Info($"chat formatting: {(models.Formatter.UsesChatTemplate ? "the model's chat template" : "the instruction prompt template (no chat template in the model)")}");
            return Serve(console, models.Scheduler, model, serverOptions with { EncodeChat = models.Encoder }, stop);
        });
        return command;
    }

    private static int Serve(CliConsole console, GenerationScheduler scheduler, PretrainedModel model, MixLoraServerOptions options, CancellationToken? stop)
    {
        using var signalled = new CancellationTokenSource();
        var registrations = stop is null ? OnSignals(signalled) : [];
        try
        {
            var server = new MixLoraServer(scheduler, model.Tokenizer, options);
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
                if (!MixLoraServer.IsLoopback(options.Host))
                    console.Info(options.ApiKey is null
                        ? $"warning: listening on {options.Host}, reachable from other machines, with no authentication; give --api-key KEY to require one"
                        : $"warning: listening on {options.Host}, reachable from other machines, over plain HTTP (the API key and the text travel unencrypted)");
                console.Out.WriteLine($"serving {server.BaseAddress} (OpenAI API: {server.BaseAddress}v1)");
                console.Out.WriteLine($"models: {string.Join(", ", scheduler.ModelNames)}");
                console.Out.Flush();
                console.Info("press Ctrl-C to stop");
                (stop ?? signalled.Token).WaitHandle.WaitOne();
                console.Info($"stopping: requests in flight have {options.ShutdownGracePeriod.TotalSeconds:0} s to finish");
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            console.Info("stopped");
            return 0;
        }
        finally
        {
            foreach (var registration in registrations) registration.Dispose();
        }
    }

    /// <summary>Ctrl-C (SIGINT) and SIGTERM cancel <paramref name="stop"/> instead of killing the process, so the server drains.</summary>
    private static PosixSignalRegistration[] OnSignals(CancellationTokenSource stop)
    {
        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            try { stop.Cancel(); }
            catch (ObjectDisposedException) { }
        }
        return [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }
}
