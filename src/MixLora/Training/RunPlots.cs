using MixLora.Adapters;
using MixLora.Plots;

namespace MixLora.Training;

/// <summary>The PNG plots saved next to a trained adapter: loss curves and the router's expert load per layer.</summary>
public static class RunPlots
{
    public const string LossFile = "loss.png";
    public const string ExpertLoadFile = "expert_load.png";

    /// <summary>Draws the plots of one adapter into its folder; returns the files written.</summary>
    public static IReadOnlyList<string> Save(string adapterDir, string adapterName, RouterStatistics? statistics)
    {
        var written = new List<string>();
        var metrics = new MetricsLog(adapterDir).Read();
        if (metrics.Count > 0)
        {
            var series = new List<(string, IReadOnlyList<(double, double)>)>
            {
                ("LM loss", metrics.Select(m => ((double)m.MicroStep, m.Loss)).ToList()),
            };
            if (metrics.Any(m => m.Aux is not null))
                series.Add(("router aux loss (with coefficient)", metrics.Where(m => m.Aux is not null).Select(m => ((double)m.MicroStep, m.Aux!.Value)).ToList()));
            var path = Path.Combine(adapterDir, LossFile);
            Charts.SaveLossCurves(path, series, $"{adapterName}: training loss", "loss");
            written.Add(path);
        }
        if (statistics is not null)
        {
            var snapshot = statistics.Snapshot();
            if (snapshot.Tokens.Any(t => t > 0))
            {
                var path = Path.Combine(adapterDir, ExpertLoadFile);
                Charts.SaveExpertLoadHeatmap(path, snapshot.AssignmentShare, $"{adapterName}: share of routed tokens per expert (training)");
                written.Add(path);
            }
        }
        return written;
    }
}
