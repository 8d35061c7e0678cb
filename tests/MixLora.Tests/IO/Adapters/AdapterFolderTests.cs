using System.Text.Json;
using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO.Adapters;

public class AdapterFolderTests
{
    [Fact]
    public void GoldenFolderLoadsTheSameTensorsFromSafeTensorsAndFromBin()
    {
        var (config, fromSafeTensors) = AdapterFolder.Load(GoldenAdapter.Dir);
        using var binOnly = new TempDir();
        GoldenAdapter.CopyTo(binOnly.Path, AdapterFolder.SafeTensorsFileName);
        var (binConfig, fromBin) = AdapterFolder.Load(binOnly.Path);
        try
        {
            Assert.Equal(config.ToJson(), binConfig.ToJson());
            Assert.Equal(5 * 33, fromBin.Count);
            Assert.All(fromBin.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            GoldenAdapter.AssertSameTensors(fromBin, fromSafeTensors);
            Assert.True(config.IsTopKRouting);
            Assert.Equal((4, 2, 4, 8), (config.NumExperts, config.EffectiveTopK, config.R, config.LoraAlpha));
        }
        finally
        {
            GoldenAdapter.DisposeAll(fromSafeTensors);
            GoldenAdapter.DisposeAll(fromBin);
        }
    }

    [Fact]
    public void SafeTensorsIsPreferredWhenBothWeightFilesExist()
    {
        using var dir = new TempDir();
        GoldenAdapter.CopyTo(dir.Path);
        // Replace the .bin by one with different values: Load must still read the safetensors file.
        var tensors = GoldenAdapter.BinTensors();
        var zeroed = tensors.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, zeros_like(kv.Value))).ToList();
        TorchBinFile.Save(Path.Combine(dir.Path, AdapterFolder.BinFileName), zeroed);
        var (_, loaded) = AdapterFolder.Load(dir.Path);
        GoldenAdapter.AssertSameTensors(tensors, loaded);
        Assert.EndsWith(AdapterFolder.SafeTensorsFileName, AdapterFolder.WeightsPath(dir.Path));
        GoldenAdapter.DisposeAll(tensors);
        GoldenAdapter.DisposeAll(zeroed);
        GoldenAdapter.DisposeAll(loaded);
    }

    [Theory]
    [InlineData(AdapterWeightFormat.Bin)]
    [InlineData(AdapterWeightFormat.SafeTensors)]
    public void SaveThenLoadIsBitExactAndSavingTwiceGivesIdenticalBytes(AdapterWeightFormat format)
    {
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var tensors = GoldenAdapter.BinTensors();
        using var first = new TempDir();
        using var second = new TempDir();
        AdapterFolder.Save(first.Path, config, tensors, format);
        var (reloadedConfig, reloaded) = AdapterFolder.Load(first.Path, GoldenAdapter.BaseModel);
        GoldenAdapter.AssertSameTensors(tensors, reloaded);
        Assert.Equal(config.ToJson(), reloadedConfig.ToJson());
        Assert.Equal(config.ToJson(), File.ReadAllText(Path.Combine(first.Path, AdapterFolder.ConfigFileName)));

        AdapterFolder.Save(second.Path, reloadedConfig, reloaded, format);
        var fileName = format == AdapterWeightFormat.Bin ? AdapterFolder.BinFileName : AdapterFolder.SafeTensorsFileName;
        Assert.Equal(File.ReadAllBytes(Path.Combine(first.Path, fileName)), File.ReadAllBytes(Path.Combine(second.Path, fileName)));
        Assert.Equal(2, Directory.GetFiles(first.Path).Length);
        GoldenAdapter.DisposeAll(tensors);
        GoldenAdapter.DisposeAll(reloaded);
    }

    [Fact]
    public void SavingInTheOtherFormatRemovesTheStaleWeightFile()
    {
        using var dir = new TempDir();
        GoldenAdapter.CopyTo(dir.Path);
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath);
        var tensors = GoldenAdapter.BinTensors();
        var doubled = tensors.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value * 2)).ToList();
        AdapterFolder.Save(dir.Path, config, doubled, AdapterWeightFormat.Bin);
        Assert.False(File.Exists(Path.Combine(dir.Path, AdapterFolder.SafeTensorsFileName)));
        var (_, loaded) = AdapterFolder.Load(dir.Path);
        GoldenAdapter.AssertSameTensors(doubled, loaded);
        GoldenAdapter.DisposeAll(tensors);
        GoldenAdapter.DisposeAll(doubled);
        GoldenAdapter.DisposeAll(loaded);
    }

    [Fact]
    public void GoldenConfigIsRewrittenWithTheSameKeysAndValuesInTheMoePeftOrder()
    {
        var golden = File.ReadAllText(GoldenAdapter.ConfigPath);
        var written = AdapterConfig.Load(GoldenAdapter.ConfigPath).ToJson();

        // The golden file has mixlora-pkg's order (task_type, base_model_name_or_path after peft_type); MoE-PEFT,
        // which we follow, writes them last. Moving those two lines must give our text exactly.
        var lines = golden.Split('\n').ToList();
        var moved = lines.Where(l => l.Contains("\"task_type\"") || l.Contains("\"base_model_name_or_path\"")).Reverse().ToList();
        Assert.Equal(2, moved.Count);
        lines.RemoveAll(moved.Contains);
        lines[^2] += ",";
        lines.InsertRange(lines.Count - 1, moved.Select((l, i) => i == moved.Count - 1 ? l.TrimEnd(',') : l));
        Assert.Equal(string.Join("\n", lines), written);

        Assert.Equal(KeyValues(golden), KeyValues(written));
        Assert.Equal(written, AdapterConfig.Parse(written, "rewritten").ToJson());
    }

    private static SortedDictionary<string, string> KeyValues(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return new SortedDictionary<string, string>(doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText()
            .Replace(" ", "").Replace("\n", "")), StringComparer.Ordinal);
    }

    [Fact]
    public void MissingFolderConfigOrWeightsAreClearErrors()
    {
        using var dir = new TempDir();
        var absent = Path.Combine(dir.Path, "nope");
        Assert.Contains("adapter folder not found", Assert.ThrowsAny<MixLoraException>(() => AdapterFolder.Load(absent)).Message);

        var noConfig = Assert.Throws<InvalidFileException>(() => AdapterFolder.Load(dir.Path));
        Assert.Contains(AdapterFolder.ConfigFileName, noConfig.Message);

        File.Copy(GoldenAdapter.ConfigPath, dir.File(AdapterFolder.ConfigFileName));
        var noWeights = Assert.ThrowsAny<MixLoraException>(() => AdapterFolder.Load(dir.Path));
        Assert.Contains(AdapterFolder.BinFileName, noWeights.Message);
        Assert.Contains(AdapterFolder.SafeTensorsFileName, noWeights.Message);
        Assert.Contains(dir.Path, noWeights.Message);

        File.WriteAllBytes(dir.File(AdapterFolder.BinFileName), [1, 2, 3]);
        var corrupt = Assert.Throws<InvalidFileException>(() => AdapterFolder.Load(dir.Path));
        Assert.Contains(AdapterFolder.BinFileName, corrupt.Message);
    }

    [Fact]
    public void SaveRefusesAnInvalidConfigBeforeWritingAnything()
    {
        using var dir = new TempDir();
        var config = AdapterConfig.Load(GoldenAdapter.ConfigPath) with { TopK = 9 };
        var target = Path.Combine(dir.Path, "out");
        var error = Assert.Throws<InvalidFileException>(() => AdapterFolder.Save(target, config, []));
        Assert.Contains("top_k", error.Message);
        Assert.False(Directory.Exists(target));
    }
}
