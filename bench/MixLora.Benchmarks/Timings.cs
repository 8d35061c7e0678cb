using System.Diagnostics;

namespace MixLora.Benchmarks;

/// <summary>Stopwatch timing: median and minimum milliseconds of repeated runs.</summary>
internal static class Timings
{
    /// <summary>Warms every action up once, then runs them in turn <paramref name="repeats"/> times.</summary>
    public static (double Median, double Min)[] RoundRobin(Action[] actions, int repeats)
    {
        foreach (var action in actions) action();
        var times = actions.Select(_ => new double[repeats]).ToArray();
        for (int r = 0; r < repeats; r++)
        {
            for (int a = 0; a < actions.Length; a++)
            {
                var watch = Stopwatch.StartNew();
                actions[a]();
                times[a][r] = watch.Elapsed.TotalMilliseconds;
            }
        }
        return times.Select(t => (Median(t), t.Min())).ToArray();
    }

    private static double Median(double[] values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
