using System.Text.Json.Nodes;

namespace MixLora.Training;

/// <summary>Where one adapter of a run stands: its resume checkpoint, its logged steps and whether it was saved.</summary>
/// <param name="CheckpointMicroStep">Micro-steps in the checkpoint; null when the run has no checkpoint for it.</param>
/// <param name="CheckpointLoss">The loss of the last step before the checkpoint.</param>
/// <param name="Stopped">Why the adapter stopped early (a non-finite loss or gradient), or null.</param>
/// <param name="Saved">The finished adapter (adapter_model.bin) is in its folder.</param>
public sealed record AdapterRunSummary(string Name, string Directory, long? CheckpointMicroStep, long? CheckpointOptimizerStep,
    int? CheckpointEpoch, double? CheckpointLoss, string? Stopped, int LoggedSteps, double? LastLoggedLoss, bool Saved);

/// <summary>
/// What <c>mixlora info RUNDIR</c> shows about a training run folder: the checkpoint a <c>--resume</c> would continue
/// from (fused step, time written) and every adapter's state. Reads only JSON files; never loads tensors.
/// </summary>
public sealed record RunSummary(string Directory, long? CheckpointStep, DateTime? CheckpointTimeUtc, IReadOnlyList<AdapterRunSummary> Adapters)
{
    private const string RunFile = "run.json";

    /// <summary>Whether <paramref name="dir"/> looks like a training run: a checkpoint, or an adapter folder with metrics.</summary>
    public static bool IsRunFolder(string dir) =>
        System.IO.Directory.Exists(dir)
        && (RunCheckpoint.Find(dir) is not null
            || System.IO.Directory.EnumerateDirectories(dir).Any(d => File.Exists(Path.Combine(d, MetricsLog.FileName))));

    /// <exception cref="InvalidFileException">The folder is not a run, or a checkpoint file is malformed.</exception>
    public static RunSummary Read(string dir)
    {
        if (!IsRunFolder(dir))
            throw new InvalidFileException(dir, $"not a training run folder (no {RunCheckpoint.FolderName}/ and no <adapter>/{MetricsLog.FileName})");
        var checkpoint = RunCheckpoint.Find(dir);
        long? step = null;
        DateTime? time = null;
        var names = new List<string>();
        if (checkpoint is not null)
        {
            var runPath = Path.Combine(checkpoint, RunFile);
            var run = ParseObject(runPath);
            var reader = new ManifestReader(runPath);
            step = reader.Long(run, "step");
            names.AddRange(reader.Array(run, "adapters").Select(n => reader.String(n, "adapters")));
            time = File.GetLastWriteTimeUtc(runPath);
        }
        // Adapters that logged steps but are not in the checkpoint (a run killed before its first save).
        names.AddRange(System.IO.Directory.EnumerateDirectories(dir)
            .Where(d => File.Exists(Path.Combine(d, MetricsLog.FileName)))
            .Select(Path.GetFileName).OfType<string>()
            .Where(n => !names.Contains(n)).Order(StringComparer.Ordinal));
        return new RunSummary(dir, step, time, names.Select(n => Adapter(dir, checkpoint, n)).ToList());
    }

    private static AdapterRunSummary Adapter(string dir, string? checkpoint, string name)
    {
        var adapterDir = Path.Combine(dir, name);
        var log = new MetricsLog(adapterDir).Read();
        var statePath = checkpoint is null ? null : Path.Combine(checkpoint, name, CheckpointStore.StateJsonFileName);
        CheckpointManifest? state = statePath is not null && File.Exists(statePath)
            ? CheckpointManifest.Parse(statePath, File.ReadAllText(statePath))
            : null;
        double? loss = state?.Extra.TryGetValue("last_loss", out var text) == true
            ? double.Parse(text, System.Globalization.CultureInfo.InvariantCulture)
            : null;
        return new AdapterRunSummary(name, adapterDir, state?.MicroStep, state?.OptimizerStep, state?.Epoch, loss,
            state?.Extra.GetValueOrDefault("stopped"), log.Count, log.Count > 0 ? log[^1].Loss : null,
            File.Exists(Path.Combine(adapterDir, IO.AdapterFolder.BinFileName)));
    }

    private static JsonObject ParseObject(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidFileException(path, "expected a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidFileException(path, $"not valid JSON: {e.Message}", e);
        }
    }
}
