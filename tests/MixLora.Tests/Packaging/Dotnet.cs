using System.Diagnostics;

namespace MixLora.Tests.Packaging;

/// <summary>Runs the `dotnet` CLI in a child process and captures what it printed.</summary>
public static class Dotnet
{
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        public string Output => Out + Err;
    }

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public static Result Run(string workingDirectory, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // `dotnet test` hands its test host the MSBuild paths of the SDK that built the tests; the child picks its own.
        foreach (string name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
            start.Environment.Remove(name);
        // No build node or compiler server outlives the command (one would also keep the output pipes open).
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish within {Timeout.TotalMinutes} minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
