using System.Text.Json.Serialization;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>What one variant's worker process measured (serialised as one JSON line to the parent).</summary>
public sealed record TrainStepMeasurement
{
    [JsonPropertyName("variant")] public required string Variant { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("warmup")] public int Warmup { get; init; }
    [JsonPropertyName("step_times_s")] public double[] StepTimesS { get; init; } = [];
    [JsonPropertyName("forward_times_s")] public double[] ForwardTimesS { get; init; } = [];
    [JsonPropertyName("backward_times_s")] public double[] BackwardTimesS { get; init; } = [];
    [JsonPropertyName("optimizer_times_s")] public double[] OptimizerTimesS { get; init; } = [];
    [JsonPropertyName("loss_first_last")] public double[] LossFirstLast { get; init; } = [];
    [JsonPropertyName("params_frozen")] public long ParamsFrozen { get; init; }
    [JsonPropertyName("params_trainable")] public long ParamsTrainable { get; init; }
    [JsonPropertyName("rss_start_mib")] public double RssStartMiB { get; init; }
    [JsonPropertyName("rss_after_model_mib")] public double RssAfterModelMiB { get; init; }
    /// <summary>Peak RSS after the model, adapter and optimizer were built, before the first step.</summary>
    [JsonPropertyName("rss_baseline_mib")] public double RssBaselineMiB { get; init; }
    [JsonPropertyName("rss_baseline_current_mib")] public double RssBaselineCurrentMiB { get; init; }
    [JsonPropertyName("rss_peak_mib")] public double RssPeakMiB { get; init; }
    [JsonPropertyName("threads")] public int Threads { get; init; }
    /// <summary>Mean (token, expert) assignments per token over the measured steps (MixLoRA), 0 otherwise.</summary>
    [JsonPropertyName("experts_per_token")] public double ExpertsPerToken { get; init; }
    [JsonPropertyName("gemm_after_gflops")] public double GemmAfterGflops { get; init; }
    /// <summary>Live memory of one extra step with glibc returning freed memory at once (null where not measurable).</summary>
    [JsonPropertyName("activation_mib")] public double? ActivationMiB { get; init; }

    /// <summary>Activation memory: peak RSS minus the RSS peak after model and adapter load.</summary>
    [JsonPropertyName("rss_delta_mib")] public double RssDeltaMiB => RssPeakMiB - RssBaselineMiB;
}
