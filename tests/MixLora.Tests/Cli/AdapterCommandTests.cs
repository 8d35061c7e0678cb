using MixLora.IO;
using MixLora.Tests.IO.Adapters;
using MixLora.Tests.Support;

namespace MixLora.Tests.Cli;

public class AdapterCommandTests
{
    private static string GoldenAdapterDir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    [Theory]
    [InlineData("auto")]
    [InlineData("vanilla")]
    [InlineData("shared")]
    [InlineData("fused")]
    public void LogitsWithAdapterMatchTheReference(string path)
    {
        using var dir = new TempDir();
        var ids = string.Join(",", GoldenData.Ids("input_ids_2"));
        var result = CliRunner.Run("logits", "--model", Stories260K.Dir, "--adapter", GoldenAdapterDir, "--expert-path", path,
            "--input-ids", ids, "--output", dir.File("logits.safetensors"));
        Assert.Equal(0, result.ExitCode);
        var logits = SafeTensorsFile.Load(dir.File("logits.safetensors"))["logits"];
        TensorAssert.Close(GoldenData.Get("adapter_logits_2"), logits, 1e-4, "CLI adapter logits");
    }

    [Fact]
    public void InfoDescribesTheAdapter()
    {
        var result = CliRunner.Run("info", "--adapter", GoldenAdapterDir);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("MIXLORA", result.Out);
        Assert.Contains("mixlora, top_k 2", result.Out);
        Assert.Contains("66,880", result.Out);   // 5 layers × (attention LoRA 2,560 + router 256 + 4 experts × 2,688)
        Assert.Contains("25.72 %", result.Out);
    }

    [Fact]
    public void GenerateWithAdapterFollowsTheReferenceGreedyText()
    {
        var result = CliRunner.Run("generate", "--adapter", GoldenAdapterDir, "-t", "0", "--repetition-penalty", "1", "-n", "40", "--no-stream");
        Assert.Equal(0, result.ExitCode);
        // golden.json info.adapter_greedy_text (the official implementation's greedy output with this adapter).
        Assert.StartsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she went to the p", result.Out);
    }

    [Fact]
    public void ConvertLegacyProducesTheOfficialAdapter()
    {
        using var dir = new TempDir();
        LegacyAdapterConverterTests.WriteLegacyGolden(dir.File("legacy"));
        var result = CliRunner.Run("convert", "legacy", "--adapter", dir.File("legacy"), "--output", dir.File("modern"));
        Assert.Equal(0, result.ExitCode);
        var converted = TorchBinFile.Load(Path.Combine(dir.File("modern"), "adapter_model.bin"));
        var golden = TorchBinFile.Load(Path.Combine(GoldenAdapterDir, "adapter_model.bin"));
        Assert.Equal(golden.Keys.ToList(), converted.Keys.ToList());
        foreach (var (name, tensor) in golden) Assert.True(tensor.eq(converted[name]).all().item<bool>(), name);
    }

    [Fact]
    public void BadAdaptersGiveOneLineErrors()
    {
        using var dir = new TempDir();
        var missing = CliRunner.Run("logits", "--adapter", dir.File("none"), "--input-ids", "1,2", "--output", dir.File("x.safetensors"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("adapter folder not found", missing.Err);

        GoldenAdapter.CopyTo(dir.File("bad"));
        var configPath = Path.Combine(dir.File("bad"), "adapter_config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"top_k\": 2", "\"top_k\": 9"));
        var badTopK = CliRunner.Run("generate", "--adapter", dir.File("bad"), "-n", "3");
        Assert.Equal(1, badTopK.ExitCode);
        Assert.Contains("top_k", badTopK.Err);
        Assert.Single(badTopK.Err.Trim().Split('\n'));
        Assert.False(File.Exists(dir.File("x.safetensors")));

        var badPath = CliRunner.Run("generate", "--adapter", GoldenAdapterDir, "--expert-path", "turbo", "-n", "3");
        Assert.Equal(1, badPath.ExitCode);
        Assert.Contains("--expert-path \"turbo\"", badPath.Err);
    }
}
