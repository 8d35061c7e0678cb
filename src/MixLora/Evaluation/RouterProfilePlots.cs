using MixLora.Plots;

namespace MixLora.Evaluation;

/// <summary>PNG heatmaps of the router profile of each MixLoRA target in a report.</summary>
public static class RouterProfilePlots
{
    /// <summary>
    /// Writes one heatmap per MixLoRA target, <c>&lt;stem&gt;.router-&lt;target&gt;.png</c> next to <paramref name="resultsPath"/>:
    /// per layer, each expert's share of the (token, slot) selections, averaged over the evaluated tasks.
    /// </summary>
    /// <returns>The files written.</returns>
    public static IReadOnlyList<string> Save(string resultsPath, EvaluationReport report)
    {
        var written = new List<string>();
        var directory = Path.GetDirectoryName(Path.GetFullPath(resultsPath))!;
        var stem = Path.GetFileNameWithoutExtension(resultsPath);
        foreach (var target in report.Targets)
        {
            var loads = report.Results.Where(r => r.AdapterName == target && r.RouterLoad is not null).Select(r => r.RouterLoad!).ToList();
            if (loads.Count == 0) continue;
            var share = MeanShare(loads);
            var path = Path.Combine(directory, $"{stem}.router-{Sanitize(target)}.png");
            var tasks = string.Join(", ", report.Results.Where(r => r.AdapterName == target && r.RouterLoad is not null).Select(r => r.TaskName));
            Charts.SaveExpertLoadHeatmap(path, share, $"{target}: expert share per layer ({tasks})");
            written.Add(path);
        }
        return written;
    }

    /// <summary>Rows normalised to shares (selections per token / top-k), then averaged over tasks.</summary>
    private static double[][] MeanShare(IReadOnlyList<double[][]> loads)
    {
        int layers = loads[0].Length, experts = loads[0][0].Length;
        var share = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            share[l] = new double[experts];
            foreach (var load in loads)
            {
                double total = load[l].Sum();
                for (int e = 0; e < experts; e++) share[l][e] += total > 0 ? load[l][e] / total / loads.Count : 0;
            }
        }
        return share;
    }

    private static string Sanitize(string name) =>
        new(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
}
