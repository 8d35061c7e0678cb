using System.Text.Json.Serialization;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>One variant's numbers over all its rounds, with the peer's names and aggregation (peer_bench.py, _derive).</summary>
public sealed record TrainStepDerived
{
    [JsonPropertyName("ms_per_step")] public double MsPerStep { get; init; }
    [JsonPropertyName("ms_per_token")] public double MsPerToken { get; init; }
    [JsonPropertyName("tokens_per_s")] public double TokensPerS { get; init; }
    [JsonPropertyName("ms_per_step_by_round")] public double[] MsPerStepByRound { get; init; } = [];
    [JsonPropertyName("phase_ms")] public Dictionary<string, double> PhaseMs { get; init; } = [];
    [JsonPropertyName("peak_rss_mib")] public double PeakRssMiB { get; init; }
    [JsonPropertyName("delta_rss_mib")] public double DeltaRssMiB { get; init; }
    /// <summary>Live activation memory of a step (the largest round's), allocator retention excluded; null if unmeasured.</summary>
    [JsonPropertyName("activation_mib")] public double? ActivationMiB { get; init; }
    [JsonPropertyName("baseline_rss_mib")] public double BaselineRssMiB { get; init; }
    [JsonPropertyName("params_trainable")] public long ParamsTrainable { get; init; }
    [JsonPropertyName("params_frozen")] public long ParamsFrozen { get; init; }
    [JsonPropertyName("model_gflop")] public double ModelGflop { get; init; }
    [JsonPropertyName("executed_gflop")] public double ExecutedGflop { get; init; }
    [JsonPropertyName("achieved_gflops")] public double AchievedGflops { get; init; }
    [JsonPropertyName("mfu")] public double Mfu { get; init; }
    [JsonPropertyName("hfu")] public double Hfu { get; init; }
    [JsonPropertyName("gemm_after_gflops")] public double GemmAfterGflops { get; init; }
    [JsonPropertyName("mfu_vs_local_gemm")] public double MfuVsLocalGemm { get; init; }
    /// <summary>MixLoRA only (mean over rounds); absent for base_fwd and lora.</summary>
    [JsonPropertyName("experts_per_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ExpertsPerToken { get; init; }

    /// <summary>
    /// Median over all measured steps of all rounds; phases: median over rounds of each round's median (as the peer);
    /// peak and delta RSS: the largest round's. MFU and HFU divide by the start-of-run GEMM rate.
    /// </summary>
    public static TrainStepDerived From(TrainStepShape shape, string variant, IReadOnlyList<TrainStepMeasurement> runs, double gemmStartGflops)
    {
        if (runs.Count == 0) throw new ArgumentException($"no measurements of {variant}", nameof(runs));
        double? expertsPerToken = TrainStepVariants.IsMixLora(variant) ? runs.Average(r => r.ExpertsPerToken) : null;
        var flops = StepFlops.Of(shape, variant, expertsPerToken ?? 0);
        double t = Statistics.Median(runs.SelectMany(r => r.StepTimesS));
        double gemmLocal = Statistics.Median(runs.Select(r => r.GemmAfterGflops));
        // The frozen forward has no backward or optimizer phase; the peer records only "forward" for it.
        var phases = new List<(string Name, Func<TrainStepMeasurement, double[]> Times)> { ("forward", r => r.ForwardTimesS) };
        if (variant != "base_fwd")
        {
            phases.Add(("backward", r => r.BackwardTimesS));
            phases.Add(("optimizer", r => r.OptimizerTimesS));
        }
        return new TrainStepDerived
        {
            MsPerStep = t * 1e3,
            MsPerToken = t * 1e3 / shape.Tokens,
            TokensPerS = shape.Tokens / t,
            MsPerStepByRound = runs.Select(r => Statistics.Median(r.StepTimesS) * 1e3).ToArray(),
            PhaseMs = phases.ToDictionary(p => p.Name, p => Statistics.Median(runs.Select(r => Statistics.Median(p.Times(r)))) * 1e3),
            PeakRssMiB = runs.Max(r => r.RssPeakMiB),
            DeltaRssMiB = runs.Max(r => r.RssDeltaMiB),
            ActivationMiB = runs.All(r => r.ActivationMiB is not null) ? runs.Max(r => r.ActivationMiB!.Value) : null,
            BaselineRssMiB = runs[0].RssBaselineMiB,
            ParamsTrainable = runs[0].ParamsTrainable,
            ParamsFrozen = runs[0].ParamsFrozen,
            ModelGflop = flops.Model / 1e9,
            ExecutedGflop = flops.Executed / 1e9,
            AchievedGflops = flops.Model / t / 1e9,
            Mfu = flops.Model / t / 1e9 / gemmStartGflops,
            Hfu = flops.Executed / t / 1e9 / gemmStartGflops,
            GemmAfterGflops = gemmLocal,
            MfuVsLocalGemm = flops.Model / t / 1e9 / gemmLocal,
            ExpertsPerToken = expertsPerToken,
        };
    }
}
