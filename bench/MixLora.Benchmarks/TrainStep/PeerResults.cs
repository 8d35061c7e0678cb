using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>One variant of the peer's results: the fields our ratios divide by.</summary>
public sealed record PeerVariant(double MsPerStep, double DeltaRssMiB, double PeakRssMiB, IReadOnlyDictionary<string, double> PhaseMs);

/// <summary>
/// The JSON written by the PyTorch peer (peer_bench.py --output). Read leniently (Python writes a NaN loss as a
/// bare NaN) but checked strictly: a file that is not what we expect stops the run before anything is measured.
/// </summary>
public sealed record PeerResults(string Path, string ShapeName, int Threads, IReadOnlyDictionary<string, PeerVariant> Results)
{
    private const string Expected =
        "expected the JSON of peer_bench.py --output: an object with shape_name, threads and results " +
        "{variant: {ms_per_step, delta_rss_mib, peak_rss_mib, phase_ms}}";

    public static PeerResults Load(string path)
    {
        if (!File.Exists(path)) throw Fail(path, "file not found");
        JsonNode? root;
        try
        {
            root = JsonFiles.ParseLenient(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw Fail(path, $"not valid JSON ({e.Message})");
        }
        if (root is not JsonObject top) throw Fail(path, "the top level is not an object");
        string shapeName = top["shape_name"] is JsonValue s && s.TryGetValue(out string? name) ? name : throw Fail(path, "no string 'shape_name'");
        int threads = top["threads"] is JsonValue t && t.TryGetValue(out int n) ? n : throw Fail(path, "no integer 'threads'");
        if (top["results"] is not JsonObject results || results.Count == 0) throw Fail(path, "no non-empty object 'results'");
        var variants = new Dictionary<string, PeerVariant>();
        foreach (var (variant, node) in results)
        {
            if (node is not JsonObject v) throw Fail(path, $"results.{variant} is not an object");
            var phases = new Dictionary<string, double>();
            if (v["phase_ms"] is JsonObject phaseObject)
                foreach (var (phase, value) in phaseObject)
                    phases[phase] = Number(value) ?? throw Fail(path, $"results.{variant}.phase_ms.{phase} is not a number");
            variants[variant] = new PeerVariant(
                Number(v["ms_per_step"]) ?? throw Fail(path, $"results.{variant} has no number 'ms_per_step'"),
                Number(v["delta_rss_mib"]) ?? throw Fail(path, $"results.{variant} has no number 'delta_rss_mib'"),
                Number(v["peak_rss_mib"]) ?? throw Fail(path, $"results.{variant} has no number 'peak_rss_mib'"),
                phases);
        }
        return new PeerResults(path, shapeName, threads, variants);
    }

    /// <summary>Why ours and the peer's numbers are not like for like (empty when they are).</summary>
    public IReadOnlyList<string> Mismatches(TrainStepShape shape, int threads)
    {
        var problems = new List<string>();
        if (ShapeName != shape.Name) problems.Add($"the peer ran shape '{ShapeName}', we run '{shape.Name}'");
        if (Threads != threads) problems.Add($"the peer ran {Threads} threads, we run {threads}");
        return problems;
    }

    private static double? Number(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue(out double number) && double.IsFinite(number) ? number : null;

    private static UsageException Fail(string path, string problem) => new($"train-step: --peer-json {path}: {problem}; {Expected}");
}
