using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// Ratios between variants (the peer's pairs), the headline ratios and targets, and ours/peer ratios.
/// A ratio whose variants did not run, or whose denominator is not positive, is left out rather than invented.
/// </summary>
public static class TrainStepComparison
{
    /// <summary>The peer's _ratios pairs (numerator / denominator).</summary>
    private static readonly (string A, string B)[] Pairs =
    [
        ("mixlora_shared", "mixlora_vanilla"), ("mixlora_fused", "mixlora_vanilla"), ("mixlora_fused", "mixlora_shared"),
        ("mixlora_fused", "lora"), ("mixlora_shared", "lora"), ("mixlora_vanilla", "lora"), ("lora", "base_fwd"),
    ];

    /// <summary>The targets on the headline ratios: (key, limit, true = upper bound).</summary>
    private static readonly (string Key, double Limit, bool AtMost)[] HeadlineTargets =
    [
        ("fused_vs_vanilla_latency", 0.60, true), ("fused_vs_vanilla_memory", 0.55, true),
        ("shared_vs_vanilla_latency", 0.75, true), ("shared_vs_vanilla_memory", 0.75, true),
        ("mixlora_vs_lora_latency", 1.25, true), ("mfu", 0.40, false),
    ];

    /// <summary>Every variant's latency must be at most this share of the peer's.</summary>
    public const double PeerLatencyLimit = 0.85;

    public static double? Ratio(double numerator, double denominator) =>
        denominator > 0 && double.IsFinite(numerator) && double.IsFinite(denominator) ? numerator / denominator : null;

    public static JsonObject Ratios(IReadOnlyDictionary<string, TrainStepDerived> d)
    {
        var ratios = new JsonObject();
        foreach (var (a, b) in Pairs)
        {
            if (!d.TryGetValue(a, out var x) || !d.TryGetValue(b, out var y)) continue;
            var entry = new JsonObject();
            Put(entry, "latency", Ratio(x.MsPerStep, y.MsPerStep));
            Put(entry, "peak_rss", Ratio(x.PeakRssMiB, y.PeakRssMiB));
            Put(entry, "delta_rss", Ratio(x.DeltaRssMiB, y.DeltaRssMiB));
            ratios[$"{a}/{b}"] = entry;
        }
        return ratios;
    }

    /// <summary>The headline numbers, in a fixed order.</summary>
    public static IReadOnlyList<(string Key, double Value)> Headlines(IReadOnlyDictionary<string, TrainStepDerived> d)
    {
        var list = new List<(string, double)>();
        void Add(string key, string a, string b, Func<TrainStepDerived, double> metric)
        {
            if (d.TryGetValue(a, out var x) && d.TryGetValue(b, out var y) && Ratio(metric(x), metric(y)) is { } r) list.Add((key, r));
        }
        Add("fused_vs_vanilla_latency", "mixlora_fused", "mixlora_vanilla", v => v.MsPerStep);
        // Memory: live activation memory (allocator retention excluded), as the paper compares; the peak-RSS deltas
        // (the peer's measure, glibc's retained heap included) are kept beside it.
        Add("fused_vs_vanilla_memory", "mixlora_fused", "mixlora_vanilla", v => v.ActivationMiB ?? double.NaN);
        Add("fused_vs_vanilla_delta_rss", "mixlora_fused", "mixlora_vanilla", v => v.DeltaRssMiB);
        Add("shared_vs_vanilla_latency", "mixlora_shared", "mixlora_vanilla", v => v.MsPerStep);
        Add("shared_vs_vanilla_memory", "mixlora_shared", "mixlora_vanilla", v => v.ActivationMiB ?? double.NaN);
        Add("shared_vs_vanilla_delta_rss", "mixlora_shared", "mixlora_vanilla", v => v.DeltaRssMiB);
        Add("mixlora_vs_lora_latency", "mixlora_fused", "lora", v => v.MsPerStep);
        if (d.TryGetValue("mixlora_fused", out var fused)) list.Add(("mfu", fused.Mfu));
        return list;
    }

    /// <summary>Per variant run by both: ours / peer for latency, activation and peak memory, forward and backward phases.</summary>
    public static Dictionary<string, Dictionary<string, double>> VsPeer(IReadOnlyDictionary<string, TrainStepDerived> d, PeerResults peer)
    {
        var vsPeer = new Dictionary<string, Dictionary<string, double>>();
        foreach (var (variant, ours) in d)
        {
            if (!peer.Results.TryGetValue(variant, out var theirs)) continue;
            var entry = new Dictionary<string, double>();
            void Add(string key, double? value) { if (value is { } v) entry[key] = v; }
            Add("latency", Ratio(ours.MsPerStep, theirs.MsPerStep));
            Add("memory", Ratio(ours.DeltaRssMiB, theirs.DeltaRssMiB));
            Add("peak_memory", Ratio(ours.PeakRssMiB, theirs.PeakRssMiB));
            foreach (var phase in new[] { "forward", "backward" })
                if (ours.PhaseMs.TryGetValue(phase, out var o) && theirs.PhaseMs.TryGetValue(phase, out var p)) Add(phase, Ratio(o, p));
            vsPeer[variant] = entry;
        }
        return vsPeer;
    }

    public static IReadOnlyList<TargetCheck> Targets(IReadOnlyList<(string Key, double Value)> headlines,
        IReadOnlyDictionary<string, Dictionary<string, double>>? vsPeer)
    {
        var targets = new List<TargetCheck>();
        foreach (var (key, limit, atMost) in HeadlineTargets)
            if (headlines.FirstOrDefault(h => h.Key == key) is { Key: not null } h)
                targets.Add(new TargetCheck(key, h.Value, limit, atMost));
        foreach (var (variant, ratios) in vsPeer ?? new Dictionary<string, Dictionary<string, double>>())
            if (ratios.TryGetValue("latency", out var latency))
                targets.Add(TargetCheck.Max($"{variant}_vs_peer_latency", latency, PeerLatencyLimit));
        return targets;
    }

    private static void Put(JsonObject entry, string key, double? value)
    {
        if (value is { } v) entry[key] = v;
    }
}
