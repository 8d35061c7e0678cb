using System.Text.Json;
using MixLora.Cli;
using MixLora.Cli.Commands;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;

namespace MixLora.Tests.Serving.Http;

/// <summary>`mixlora serve`: its options, and a run in-process that serves, answers and stops with exit code 0.</summary>
[Collection(nameof(HttpServerCollection))]
public class ServeCommandTests
{
    [Fact]
    public void HelpShowsTheOptions()
    {
        var result = CliRunner.Run("serve", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var option in new[] { "--model", "--adapter", "--host", "--port", "--max-batch", "--max-tokens", "--api-key" })
            Assert.Contains(option, result.Out);
    }

    [Fact]
    public void BadOptionsAreUserErrors()
    {
        var port = CliRunner.Run("serve", "--port", "70000");
        Assert.Equal(1, port.ExitCode);
        Assert.Contains("the port must be in [0, 65535], got 70000", port.Err);
        var batch = CliRunner.Run("serve", "--max-batch", "0");
        Assert.Equal(1, batch.ExitCode);
        Assert.Contains("--max-batch must be at least 1", batch.Err);
        var host = CliRunner.Run("serve", "--host", "example.com");
        Assert.Equal(1, host.ExitCode);
        Assert.Contains("the host \"example.com\" is not an IP address, localhost or *", host.Err);
        var tokens = CliRunner.Run("serve", "--max-tokens", "0");
        Assert.Equal(1, tokens.ExitCode);
        Assert.Contains("--max-tokens must be at least 1, got 0", tokens.Err);
        var twice = CliRunner.Run("serve", "--adapter", "a=x", "--adapter", "a=y");
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("two adapters are named \"a\"", twice.Err);
    }

    [Fact]
    public async Task ServeRunsUntilStoppedAndAnswers()
    {
        var output = new StringWriter();
        var synchronized = TextWriter.Synchronized(output);
        var console = new CliConsole(synchronized, TextWriter.Synchronized(new StringWriter()));
        using var stop = new CancellationTokenSource();
        var adapter = RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");
        var parse = ServeCommand.Create(console, stop.Token).Parse(
            ["--model", Stories260K.Dir, "--adapter", $"moe={adapter}", "--port", "0", "--max-tokens", "5", "--api-key", "sk-cli"]);
        var run = Task.Run(() => parse.Invoke());

        string Printed() { lock (synchronized) return output.ToString(); }
        await ServerFixture.WaitUntil(() => Printed().Contains("models:") || run.IsCompleted, TimeSpan.FromSeconds(60));
        var printed = Printed();
        Assert.False(run.IsCompleted, $"serve ended early: {printed}");
        Assert.Contains("models: base, stories260K-hf, moe", printed);
        var url = printed.Split(' ', '\n').First(w => w.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));

        using (var http = new HttpClient { BaseAddress = new Uri(url) })
        {
            var (status, _) = await Api.Post(http, "v1/completions", """{"model": "moe", "prompt": "Lily", "temperature": 0}""");
            Assert.Equal(401, status);
            var (ok, body) = await Api.Post(http, "v1/completions", """{"model": "moe", "prompt": "Lily", "temperature": 0}""", key: "sk-cli");
            Assert.Equal(200, ok);
            Assert.InRange(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 5);   // --max-tokens 5
            Assert.Equal(JsonValueKind.String, body.GetProperty("choices")[0].GetProperty("text").ValueKind);
        }

        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task ANonLoopbackHostIsServedWithAWarning()
    {
        var output = TextWriter.Synchronized(new StringWriter());
        var errors = new StringWriter();
        var synchronizedErrors = TextWriter.Synchronized(errors);
        var console = new CliConsole(output, synchronizedErrors);
        using var stop = new CancellationTokenSource();
        var parse = ServeCommand.Create(console, stop.Token).Parse(["--model", Stories260K.Dir, "--host", "0.0.0.0", "--port", "0"]);
        var run = Task.Run(() => parse.Invoke());
        string Warnings() { lock (synchronizedErrors) return errors.ToString(); }
        await ServerFixture.WaitUntil(() => Warnings().Contains("press Ctrl-C") || run.IsCompleted, TimeSpan.FromSeconds(60));
        Assert.Contains("warning: listening on 0.0.0.0, reachable from other machines, with no authentication; give --api-key KEY", Warnings());
        Assert.Contains("chat formatting: the instruction prompt template (no chat template in the model)", Warnings());
        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
