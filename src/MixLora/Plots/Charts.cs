using MixLora.IO;
using ScottPlot;

namespace MixLora.Plots;

/// <summary>
/// PNG charts of training and evaluation runs: loss curves and the per-layer expert load of a MixLoRA adapter. Rendered headless
/// with ScottPlot (SkiaSharp), white background, 800×500 pixels, and written atomically (temporary file + rename)
/// so a reader never sees a half-written image.
/// </summary>
public static class Charts
{
    /// <summary>Image size in pixels.</summary>
    public const int Width = 800, Height = 500;

    /// <summary>Heatmaps with at most this many cells print each cell's value.</summary>
    public const int MaxAnnotatedCells = 64;

    /// <summary>
    /// One line per series (e.g. "train", "validation") of value against step, with a legend when there are several
    /// series. Non-finite values (a diverged loss) are left out; a series with no finite point is an error.
    /// </summary>
    public static void SaveLossCurves(
        string pngPath,
        IReadOnlyList<(string Series, IReadOnlyList<(double Step, double Value)> Points)> series,
        string title,
        string yLabel)
    {
        CheckPath(pngPath);
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("no series to plot: pass at least one (name, points) series", nameof(series));

        var plot = NewPlot(title, "step", yLabel);
        foreach (var (name, points) in series)
        {
            if (points is null || points.Count == 0)
                throw new ArgumentException($"series \"{name}\" has no points; every series needs at least one (step, value) point", nameof(series));
            var finite = points.Where(p => double.IsFinite(p.Value)).ToList();
            if (points.Any(p => !double.IsFinite(p.Step)))
                throw new ArgumentException($"series \"{name}\" has a step that is NaN or infinite", nameof(series));
            if (finite.Count == 0)
                throw new ArgumentException($"series \"{name}\" has no finite value (all {points.Count} are NaN or infinite)", nameof(series));
            var line = plot.Add.Scatter(finite.Select(p => p.Step).ToArray(), finite.Select(p => p.Value).ToArray());
            line.LegendText = name ?? "";
            line.LineWidth = 2;
            // Markers help only when a series is short (e.g. a few validation points); on long curves they blur the line.
            line.MarkerSize = finite.Count <= 30 ? 6 : 0;
        }
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperRight);
        Save(plot, pngPath);
    }

    /// <summary>
    /// Heatmap of expert load: <paramref name="load"/>[layer][expert] is the share of routed tokens (0..1) that
    /// layer sends to that expert. x = expert index, y = layer (layer 0 at the top); a colour bar gives the scale,
    /// and small maps print each share in its cell.
    /// </summary>
    public static void SaveExpertLoadHeatmap(string pngPath, double[][] load, string title)
    {
        CheckPath(pngPath);
        int experts = CheckLoad(load);
        int layers = load.Length;

        var intensities = new double[layers, experts]; // row 0 is drawn at the top
        for (int layer = 0; layer < layers; layer++)
            for (int expert = 0; expert < experts; expert++)
                intensities[layer, expert] = load[layer][expert];

        var plot = NewPlot(title, "expert", "layer");
        var heatmap = plot.Add.Heatmap(intensities);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        // Row 0 of the intensities is drawn at the top: layer l's cells are centred on y = layers−1−l, expert e's on x = e.
        heatmap.Rectangle = new CoordinateRect(-0.5, experts - 0.5, -0.5, layers - 0.5);
        double highest = load.Max(row => row.Max());
        heatmap.ManualRange = new ScottPlot.Range(0, Math.Max(highest, 1e-6));
        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "share of tokens";

        plot.Axes.Bottom.TickGenerator = IndexTicks(experts);
        plot.Axes.Left.TickGenerator = IndexTicks(layers, topDown: true);
        plot.Axes.SetLimits(-0.5, experts - 0.5, -0.5, layers - 0.5);
        plot.Grid.IsVisible = false;

        if (layers * experts <= MaxAnnotatedCells)
            AnnotateCells(plot, load, highest);
        Save(plot, pngPath);
    }

    private static void AnnotateCells(Plot plot, double[][] load, double highest)
    {
        for (int layer = 0; layer < load.Length; layer++)
            for (int expert = 0; expert < load[layer].Length; expert++)
            {
                double share = load[layer][expert];
                var label = plot.Add.Text(share.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), expert, load.Length - 1 - layer);
                label.Alignment = Alignment.MiddleCenter;
                label.LabelFontSize = 14;
                // Viridis is dark at the low end and light at the high end: pick the readable text colour.
                label.LabelFontColor = highest > 0 && share / highest > 0.6 ? Colors.Black : Colors.White;
            }
    }

    /// <summary>Ticks labelled 0..count−1 on cell centres; <paramref name="topDown"/> puts index 0 at the top.</summary>
    private static ScottPlot.TickGenerators.NumericManual IndexTicks(int count, bool topDown = false)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        // Label every index when they fit; otherwise about ten evenly spaced ones.
        int every = Math.Max(1, (int)Math.Ceiling(count / 10.0));
        for (int i = 0; i < count; i += every)
            ticks.AddMajor(topDown ? count - 1 - i : i, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return ticks;
    }

    /// <returns>The number of experts (columns), the same for every layer.</returns>
    private static int CheckLoad(double[][] load)
    {
        ArgumentNullException.ThrowIfNull(load);
        if (load.Length == 0) throw new ArgumentException("expert load has no layers: expected load[layer][expert]", nameof(load));
        if (load[0] is null || load[0].Length == 0)
            throw new ArgumentException("expert load of layer 0 has no experts: expected load[layer][expert]", nameof(load));
        int experts = load[0].Length;
        for (int layer = 0; layer < load.Length; layer++)
        {
            var row = load[layer] ?? throw new ArgumentException($"expert load of layer {layer} is null", nameof(load));
            if (row.Length != experts)
                throw new ArgumentException($"expert load is ragged: layer {layer} has {row.Length} experts, layer 0 has {experts}", nameof(load));
            for (int expert = 0; expert < experts; expert++)
                if (!double.IsFinite(row[expert]) || row[expert] < 0 || row[expert] > 1 + 1e-6)
                    throw new ArgumentException($"expert load of layer {layer}, expert {expert} is {row[expert]}; expected a share in [0, 1]", nameof(load));
        }
        return experts;
    }

    private static void CheckPath(string pngPath)
    {
        if (string.IsNullOrWhiteSpace(pngPath)) throw new ArgumentException("the PNG path is empty", nameof(pngPath));
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        if (PreferredFont.Value is { } font) plot.Font.Set(font);
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Title(title ?? "");
        plot.XLabel(xLabel);
        plot.YLabel(yLabel ?? "");
        return plot;
    }

    /// <summary>A sans-serif family that is installed (Debian ships DejaVu), else ScottPlot's own choice.</summary>
    private static readonly Lazy<string?> PreferredFont = new(() =>
        new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica" }.FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains));

    private static void Save(Plot plot, string pngPath)
    {
        byte[] png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        AtomicFile.Write(pngPath, temp => File.WriteAllBytes(temp, png));
    }
}
