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

    private static readonly Color Ours = Color.FromHex("#1f77b4"), Peer = Color.FromHex("#ff7f0e");

    public static void Save(string pngPath, TrainStepRun run)
    {
        var variants = run.Results.Keys.ToArray();
        string context = $"shape {run.Options.Shape.Name}, {run.Options.Threads} threads";
        var time = Panel($"Step time, median ({context})", "ms per step", variants,
            v => run.Results[v].MsPerStep, run.Peer is null ? null : v => run.Peer.Results.GetValueOrDefault(v)?.MsPerStep);
        var memory = Panel($"Activation memory, peak - baseline RSS ({context})", "MiB", variants,
            v => run.Results[v].DeltaRssMiB, run.Peer is null ? null : v => run.Peer.Results.GetValueOrDefault(v)?.DeltaRssMiB);

        var multiplot = new Multiplot();
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        multiplot.Reset(time); // Reset, not Add: a new Multiplot may already hold an empty plot
        multiplot.AddPlot(memory);
        using var image = multiplot.Render(Width, Height);
        byte[] png = image.GetImageBytes(ImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(pngPath, png);
    }

    /// <param name="peer">The peer's value of a variant (null: the peer did not run it), or null for no peer bars.</param>
    private static Plot Panel(string title, string yLabel, string[] variants, Func<string, double> ours, Func<string, double?>? peer)
    {
        var plot = new Plot();
        if (Font.Value is { } font) plot.Font.Set(font);
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Title(title, size: 14);
        plot.YLabel(yLabel);

        // With a peer, each variant gets two bars side by side (ours left, peer right) around its tick.
        double width = peer is null ? 0.6 : 0.38, offset = peer is null ? 0 : 0.2;
        var oursBars = plot.Add.Bars(variants.Select((v, i) => NewBar(i - offset, ours(v), width)).ToArray());
        oursBars.Color = Ours;
        if (peer is not null)
        {
            var peerBars = plot.Add.Bars(variants
                .Select((v, i) => (Position: i + offset, Value: peer(v)))
                .Where(p => p.Value is not null)
                .Select(p => NewBar(p.Position, p.Value!.Value, width)).ToArray());
            peerBars.Color = Peer;
            peerBars.LegendText = "PyTorch peer";
            oursBars.LegendText = "MixLora.NET"; // a legend only when there is something to tell apart
            plot.ShowLegend(Alignment.UpperLeft);
        }

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
