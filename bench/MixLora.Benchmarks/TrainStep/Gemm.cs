using System.Diagnostics;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The fp32 GEMM rate: 2 warm-up products of two 2048×2048 matrices, then the median of 5 (as the peer measures it).</summary>
public static class Gemm
{
    public const int N = 2048;

    public static double Gflops(int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var a = randn(N, N);
        var b = randn(N, N);
        for (int i = 0; i < 2; i++) matmul(a, b).Dispose();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            matmul(a, b).Dispose();
            times[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return 2.0 * N * N * N / times[repeats / 2] / 1e9;
    }
}
