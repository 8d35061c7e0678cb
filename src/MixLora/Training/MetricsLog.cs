using System.Globalization;
using System.Text.Json;

namespace MixLora.Training;

/// <summary>
/// metrics.jsonl of one adapter: one JSON object per micro-step. On resume the lines after the checkpoint are dropped,
/// so the file ends up as an uninterrupted run's.
/// </summary>
public sealed class MetricsLog
{
    public const string FileName = "metrics.jsonl";
    private readonly string _path;

    public MetricsLog(string adapterDir) => _path = System.IO.Path.Combine(adapterDir, FileName);

    public string Path => _path;

    public void Append(StepReport r)
    {
        var line = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["micro_step"] = r.MicroStep,
            ["optimizer_step"] = r.OptimizerStep,
            ["epoch"] = r.Epoch,
            ["loss"] = r.Loss,
            ["aux_loss"] = r.AuxLoss,
            ["lr"] = r.LearningRate,
            ["tokens"] = r.Tokens,
            ["tokens_per_second"] = Math.Round(r.TokensPerSecond, 1),
            ["elapsed_s"] = Math.Round(r.ElapsedSeconds, 3),
        });
        File.AppendAllText(_path, line + "\n");
    }

    /// <summary>Keeps only the lines of micro-steps ≤ <paramref name="microStep"/> (used when resuming).</summary>
    public void TruncateAfter(long microStep)
    {
        if (!File.Exists(_path)) return;
        var kept = Read().Where(p => p.MicroStep <= microStep).Select(p => p.Line).ToList();
        MixLora.IO.AtomicFile.WriteAllText(_path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
    }

    /// <summary>(micro_step, loss, aux_loss) of every line, for plots.</summary>
    public IReadOnlyList<(long MicroStep, double Loss, double? Aux, string Line)> Read()
    {
        if (!File.Exists(_path)) return [];
        var result = new List<(long, double, double?, string)>();
        foreach (var line in File.ReadLines(_path).Where(l => l.Length > 0))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            double? aux = root.TryGetProperty("aux_loss", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null;
            result.Add((root.GetProperty("micro_step").GetInt64(), root.GetProperty("loss").GetDouble(), aux, line));
        }
        return result;
    }
}
