using System.Text.Json.Serialization;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The fp32 GEMM rate measured by a `--worker gemm` process (the MFU denominator).</summary>
public sealed record GemmMeasurement
{
    [JsonPropertyName("gflops")] public double Gflops { get; init; }
    [JsonPropertyName("threads")] public int Threads { get; init; }
    [JsonPropertyName("n")] public int N { get; init; } = Gemm.N;
}
