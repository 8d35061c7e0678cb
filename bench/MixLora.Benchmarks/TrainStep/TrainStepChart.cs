using System.Globalization;
using MixLora.IO;
using ScottPlot;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>
/// PNG of a sweep: step time (left) and activation memory (right) per variant, with the peer's bar beside ours when
/// a peer file was given. Two panels because the units differ; bars carry their values so the PNG reads on its own.
/// </summary>
public static class TrainStepChart
{
    public const int Width = 1400, Height = 600;

    private static readonly Color Ours = Color.FromHex("#1f77b4"), OursLive = Color.FromHex("#aec7e8"), Peer = Color.FromHex("#ff7f0e");

    /// <summary>One bar per variant (null value: no bar for that variant).</summary>
    private sealed record Series(string Label, Color Color, Func<string, double?> Value);

    public static void Save(string pngPath, TrainStepRun run)
    {
        var variants = run.Results.Keys.ToArray();
        string context = $"shape {run.Options.Shape.Name}, {run.Options.Threads} threads";
        var peer = run.Peer;
        var timeSeries = new List<Series> { new("MixLora.NET", Ours, v => run.Results[v].MsPerStep) };
        if (peer is not null) timeSeries.Add(new("PyTorch peer", Peer, v => peer.Results.GetValueOrDefault(v)?.MsPerStep));
        var memorySeries = new List<Series>
        {
            new("MixLora.NET, peak - baseline RSS", Ours, v => run.Results[v].DeltaRssMiB),
            new("MixLora.NET, live activations", OursLive, v => run.Results[v].ActivationMiB),
        };
        if (peer is not null) memorySeries.Add(new("PyTorch peer, peak - baseline RSS", Peer, v => peer.Results.GetValueOrDefault(v)?.DeltaRssMiB));
        var time = Panel($"Step time, median ({context})", "ms per step", variants, timeSeries);
        var memory = Panel($"Activation memory ({context})", "MiB", variants, memorySeries);

        var multiplot = new Multiplot();
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        multiplot.Reset(time); // Reset, not Add: a new Multiplot may already hold an empty plot
        multiplot.AddPlot(memory);
        using var image = multiplot.Render(Width, Height);
        byte[] png = image.GetImageBytes(ImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(pngPath, png);
    }

    private static Plot Panel(string title, string yLabel, string[] variants, IReadOnlyList<Series> series)
    {
        var plot = new Plot();
        if (Font.Value is { } font) plot.Font.Set(font);
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Title(title, size: 14);
        plot.YLabel(yLabel);

        // Each variant gets one bar per series side by side around its tick, in series order from the left.
        double width = 0.8 / series.Count;
        for (int k = 0; k < series.Count; k++)
        {
            double offset = (k - (series.Count - 1) / 2.0) * width;
            var bars = plot.Add.Bars(variants
                .Select((v, i) => (Position: i + offset, Value: series[k].Value(v)))
                .Where(p => p.Value is not null)
                .Select(p => NewBar(p.Position, p.Value!.Value, width * 0.95)).ToArray());
            bars.Color = series[k].Color;
            if (series.Count > 1) bars.LegendText = series[k].Label; // a legend only when there is something to tell apart
        }
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperLeft);

        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < variants.Length; i++) ticks.AddMajor(i, variants[i]);
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 110; // room for the rotated variant names
        plot.Grid.XAxisStyle.IsVisible = false;
        plot.Axes.Margins(bottom: 0, top: 0.2); // bars stand on zero; headroom for the value labels and legend
        return plot;
    }

    private static Bar NewBar(double position, double value, double width) => new()
    {
        Position = position,
        Value = value,
        Size = width,
        ValueLabel = value.ToString(value >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture),
    };

    /// <summary>A sans-serif family that is installed (Debian ships DejaVu), else ScottPlot's default.</summary>
    private static readonly Lazy<string?> Font = new(() =>
        new[] { "DejaVu Sans", "Liberation Sans", "Arial" }.FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains));
}
