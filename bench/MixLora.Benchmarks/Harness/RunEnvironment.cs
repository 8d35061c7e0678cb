using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace MixLora.Benchmarks.Harness;

/// <summary>
/// Where and on what a benchmark ran: repository root and commit, machine, load average. Recorded with every result
/// because numbers from a busy machine or an uncommitted tree must be recognisable as such later.
/// </summary>
public static class RunEnvironment
{
    /// <summary>The folder holding MixLora.slnx, searched upwards from the executable, then from the current directory.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MixLora.slnx"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>
    /// HEAD of the repository, with "-dirty" when the work tree has changes; "unknown" when git fails. The default
    /// results folder does not count: an earlier run's output must not make the next run look uncommitted.
    /// </summary>
    public static string Commit(string repoRoot)
    {
        var head = Git(repoRoot, "rev-parse", "HEAD");
        if (head is null || head.Length == 0) return "unknown";
        var status = Git(repoRoot, "status", "--porcelain", "--", ".", ":(exclude)bench/results");
        if (status is null) return "unknown";
        return status.Length > 0 ? head + "-dirty" : head;
    }

    /// <summary>The 1, 5 and 15 minute load averages, or null off Linux.</summary>
    public static JsonArray? LoadAverage()
    {
        const string path = "/proc/loadavg";
        if (!File.Exists(path)) return null;
        var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3);
        return new JsonArray(parts.Select(p => (JsonNode?)JsonValue.Create(double.Parse(p, CultureInfo.InvariantCulture))).ToArray());
    }

    public static string FormatLoad(JsonArray? load) => load is null ? "n/a" : string.Join(" ", load.Select(v => v!.ToString()));

    public static JsonObject Machine()
    {
        var machine = new JsonObject
        {
            ["cpu"] = CpuModel(),
            ["cores"] = Environment.ProcessorCount,
        };
        if (MemTotalGiB() is { } mem) machine["mem_gib"] = mem;
        machine["dotnet"] = RuntimeInformation.FrameworkDescription;
        var torchSharp = typeof(TorchSharp.torch).Assembly;
        var version = torchSharp.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? torchSharp.GetName().Version?.ToString();
        if (version is not null) machine["torchsharp"] = version.Split('+')[0]; // drop the source-commit suffix
        machine["os"] = RuntimeInformation.OSDescription;
        return machine;
    }

    private static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return "";
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?.Split(':', 2)[1].Trim() ?? "";
    }

    private static double? MemTotalGiB()
    {
        const string path = "/proc/meminfo";
        if (!File.Exists(path)) return null;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is null) return null;
        long kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return Math.Round(kib / (1024.0 * 1024.0), 1);
    }

    /// <summary>Trimmed standard output of a git command, or null when git is missing or fails.</summary>
    private static string? Git(string dir, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-C");
            start.ArgumentList.Add(dir);
            foreach (var a in arguments) start.ArgumentList.Add(a);
            using var git = Process.Start(start);
            if (git is null) return null;
            var stdout = git.StandardOutput.ReadToEndAsync();
            _ = git.StandardError.ReadToEndAsync(); // drained so git never blocks on a full pipe
            git.WaitForExit();
            return git.ExitCode == 0 ? stdout.Result.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git is not installed
        }
    }
}
