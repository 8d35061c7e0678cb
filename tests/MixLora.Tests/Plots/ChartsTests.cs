using System.Buffers.Binary;
using MixLora.Tests.Support;
using MixLora.Plots;
using SkiaSharp;

namespace MixLora.Tests.Plots;

public class ChartsTests
{
    private static readonly IReadOnlyList<(double Step, double Value)> FallingLoss =
        Enumerable.Range(1, 200).Select(i => ((double)i, 4.0 * Math.Exp(-i / 50.0) + 1.0)).ToList();

    private static readonly IReadOnlyList<(double Step, double Value)> ValidationLoss = [(0, 5.0), (100, 2.0), (200, 1.5)];

    private static readonly double[][] Load =
    [
        [0.70, 0.10, 0.10, 0.10],
        [0.25, 0.25, 0.25, 0.25],
        [0.40, 0.30, 0.20, 0.10],
    ];

    [Fact]
    public void LossCurvesAreAnAtomicallyWrittenPngOfTheDocumentedSize()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "loss.png");
        File.WriteAllText(path, "old content");

        Charts.SaveLossCurves(path, [("train", FallingLoss), ("validation", ValidationLoss)], "demo loss", "loss");

        Assert.Equal((Charts.Width, Charts.Height), PngSize(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path)); // the temporary file was renamed, nothing left behind
    }

    [Fact]
    public void LossCurvesHaveAWhiteBackgroundAndDrawnLines()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "loss.png");
        Charts.SaveLossCurves(path, [("train", FallingLoss)], "demo loss", "loss");

        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal(SKColors.White, bitmap.GetPixel(2, 2));
        Assert.Equal(SKColors.White, bitmap.GetPixel(bitmap.Width - 3, bitmap.Height - 3));
        // The line is ScottPlot's first palette colour (a saturated blue), not grey axis/grid/text pixels.
        Assert.True(CountPixels(bitmap, c => c.Blue > 150 && c.Red < 100) > 200);
    }

    [Fact]
    public void DifferentLossDataGiveDifferentImages()
    {
        using var dir = new TempDir();
        var a = Path.Combine(dir.Path, "a.png");
        var b = Path.Combine(dir.Path, "b.png");
        var again = Path.Combine(dir.Path, "again.png");
        Charts.SaveLossCurves(a, [("train", FallingLoss)], "loss", "loss");
        Charts.SaveLossCurves(again, [("train", FallingLoss)], "loss", "loss");
        Charts.SaveLossCurves(b, [("train", FallingLoss.Select(p => (p.Step, p.Value * 2)).ToList())], "loss", "loss");

        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(again)); // rendering is deterministic
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void NonFiniteLossValuesAreLeftOut()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "loss.png");
        var diverged = FallingLoss.Append((201, double.NaN)).Append((202, double.PositiveInfinity)).ToList();
        Charts.SaveLossCurves(path, [("train", diverged)], "loss", "loss");
        Assert.Equal((Charts.Width, Charts.Height), PngSize(path));
    }

    [Fact]
    public void BadLossInputIsRejectedWithAClearMessage()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "loss.png");

        var none = Assert.Throws<ArgumentException>(() => Charts.SaveLossCurves(path, [], "t", "loss"));
        Assert.Contains("no series", none.Message);
        var empty = Assert.Throws<ArgumentException>(() =>
            Charts.SaveLossCurves(path, [("train", FallingLoss), ("validation", [])], "t", "loss"));
        Assert.Contains("series \"validation\" has no points", empty.Message);
        var allNaN = Assert.Throws<ArgumentException>(() =>
            Charts.SaveLossCurves(path, [("train", [(1, double.NaN)])], "t", "loss"));
        Assert.Contains("no finite value", allNaN.Message);
        Assert.Throws<ArgumentException>(() => Charts.SaveLossCurves("", [("train", FallingLoss)], "t", "loss"));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void HeatmapIsAPngWithTheLargestShareInTheBrightestColour()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "experts.png");
        Charts.SaveExpertLoadHeatmap(path, Load, "expert load");

        Assert.Equal((Charts.Width, Charts.Height), PngSize(path));
        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal(SKColors.White, bitmap.GetPixel(2, 2));
        // Viridis ends in yellow (≈ 253, 231, 37): the 0.70 cell and the top of the colour bar are drawn in it.
        Assert.True(CountPixels(bitmap, c => c.Red > 200 && c.Green > 200 && c.Blue < 100) > 1000);
    }

    [Fact]
    public void DifferentLoadsGiveDifferentHeatmaps()
    {
        using var dir = new TempDir();
        var a = Path.Combine(dir.Path, "a.png");
        var b = Path.Combine(dir.Path, "b.png");
        Charts.SaveExpertLoadHeatmap(a, Load, "load");
        Charts.SaveExpertLoadHeatmap(b, Load.Reverse().ToArray(), "load");
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void LargeHeatmapsRenderWithoutCellLabels()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "big.png");
        var big = Enumerable.Range(0, 32).Select(_ => Enumerable.Repeat(1.0 / 8, 8).ToArray()).ToArray();
        Charts.SaveExpertLoadHeatmap(path, big, "32 layers × 8 experts");
        Assert.Equal((Charts.Width, Charts.Height), PngSize(path));
    }

    [Fact]
    public void BadLoadsAreRejectedWithAClearMessage()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "experts.png");

        var ragged = Assert.Throws<ArgumentException>(() =>
            Charts.SaveExpertLoadHeatmap(path, [[0.5, 0.5], [0.2, 0.3, 0.5]], "t"));
        Assert.Contains("ragged: layer 1 has 3 experts, layer 0 has 2", ragged.Message);
        var noLayers = Assert.Throws<ArgumentException>(() => Charts.SaveExpertLoadHeatmap(path, [], "t"));
        Assert.Contains("no layers", noLayers.Message);
        var noExperts = Assert.Throws<ArgumentException>(() => Charts.SaveExpertLoadHeatmap(path, [[]], "t"));
        Assert.Contains("no experts", noExperts.Message);
        var outOfRange = Assert.Throws<ArgumentException>(() =>
            Charts.SaveExpertLoadHeatmap(path, [[0.5, 0.5], [1.5, -0.5]], "t"));
        Assert.Contains("layer 1, expert 0 is 1.5", outOfRange.Message);
        Assert.Throws<ArgumentException>(() => Charts.SaveExpertLoadHeatmap(path, [[double.NaN, 1.0]], "t"));
        Assert.False(File.Exists(path));
    }

    /// <summary>Checks the PNG signature and IHDR chunk, returns the image size.</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)));  // IHDR data length
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static int CountPixels(SKBitmap bitmap, Func<SKColor, bool> predicate)
    {
        int count = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (predicate(bitmap.GetPixel(x, y))) count++;
        return count;
    }
}
