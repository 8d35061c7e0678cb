using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// Runs this benchmark executable again as a worker (train-step or another case, <c>verb</c>): a fresh
/// process per measurement, so each variant's peak RSS is
/// its own and no allocator cache or JIT state carries over. Its stderr (progress) is streamed to the console; its
/// result is the JSON on its last stdout line.
/// </summary>
public static class WorkerProcess
{
    public static T Run<T>(string label, IReadOnlyList<string> arguments, int threads,
        IReadOnlyDictionary<string, string>? environment = null, string verb = "train-step")
    {
        var start = StartInfo(verb, arguments, threads);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new WorkerFailedException($"train-step: could not start worker {label} ({start.FileName})");
        var stderr = new List<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.Add(e.Data);
            Console.WriteLine("    " + e.Data);
        };
        process.BeginErrorReadLine();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit(); // also waits until every stderr line was delivered
        string command = $"{start.FileName} {string.Join(" ", start.ArgumentList)}";
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"--- stderr of worker {label} ---");
            lock (stderr) foreach (var line in stderr) Console.Error.WriteLine(line);
            throw new WorkerFailedException($"train-step: worker {label} failed with exit code {process.ExitCode} (command: {command})");
        }
        var last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (last is null) throw new WorkerFailedException($"train-step: worker {label} printed no result line on stdout (command: {command})");
        try
        {
            return JsonSerializer.Deserialize<T>(last, JsonFiles.OneLine)
                ?? throw new WorkerFailedException($"train-step: worker {label} printed 'null' instead of a result");
        }
        catch (JsonException e)
        {
            throw new WorkerFailedException($"train-step: worker {label}'s last stdout line is not its JSON result ({e.Message}): {last}");
        }
    }

    private static ProcessStartInfo StartInfo(string command, IReadOnlyList<string> arguments, int threads)
    {
        string host = Environment.ProcessPath ?? throw new WorkerFailedException("train-step: the path of this executable is unknown");
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Started as "dotnet MixLora.Benchmarks.dll": the host needs the assembly before our arguments.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(Assembly.GetEntryAssembly()?.Location ?? throw new WorkerFailedException("train-step: the entry assembly is unknown"));
        start.ArgumentList.Add(command);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        // The peer sets these before torch loads; libtorch's OpenMP pool reads them too, so both sides start alike.
        foreach (var name in new[] { "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS" })
            start.Environment[name] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return start;
    }
}
