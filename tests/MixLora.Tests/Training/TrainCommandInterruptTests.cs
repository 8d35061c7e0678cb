using System.Diagnostics;
using System.Text.Json.Nodes;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

/// <summary>Ctrl-C on `mixlora train` (a real SIGINT to a CLI process): checkpoint after the current step, exit code 130.</summary>
public class TrainCommandInterruptTests
{
    [Fact]
    public async Task SigintStopsTrainingWithACheckpointAndExitCode130()
    {
        if (!OperatingSystem.IsLinux()) return;                                  // the signal is sent with kill(1)
        using var dir = new TempDir();
        string data = Path.Combine(TrainerTests.DataDir(8), "moe-peft_dummy_data.json");
        // 8 examples x 100 epochs: far more steps than run before the signal arrives.
        string json = TrainerTests.Config("\"peft_type\": \"LORA\"", batch: 1, micro: 1, epochs: 100, data: data);
        File.WriteAllText(dir.File("config.json"), json);
        string output = dir.File("run");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "mixlora.dll"), "train", "--config", dir.File("config.json"),
                     "--output", output, "--model", Stories260K.Dir, "--log-every", "1" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Wait until training is under way (the first step's metrics line is written after the handler is installed).
            string metrics = Path.Combine(output, "a", "metrics.jsonl");
            var clock = Stopwatch.StartNew();
            while (!File.Exists(metrics) || new FileInfo(metrics).Length == 0)
            {
                if (process.HasExited) Assert.Fail($"the CLI exited early: {await stderr}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "training did not start");
                await Task.Delay(50);
            }
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) await kill.WaitForExitAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the CLI did not stop after SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        string log = await stderr + await stdout;
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("stopping after this step", log);
        Assert.Matches(@"interrupted: checkpoint saved after step \d+; continue with --resume", log);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(RunCheckpoint.PathIn(output), "run.json")))!;
        Assert.InRange(run["step"]!.GetValue<long>(), 1, 799);
        Assert.False(File.Exists(Path.Combine(output, "a", "adapter_model.bin")));
    }
}
