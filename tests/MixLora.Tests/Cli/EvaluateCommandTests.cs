using System.Text.Json;
using MixLora.Tests.Support;

namespace MixLora.Tests.Cli;

public class EvaluateCommandTests
{
    private static string GoldenAdapterDir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    [Fact]
    public void ScoresTheBaseModelAndAnAdapterTogetherAndWritesResultsAndAPlot()
    {
        using var dir = new TempDir();
        var output = dir.File("out/results.json");
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--adapter", $"golden={GoldenAdapterDir}",
            "--tasks", "boolq;piqa", "--data", RepoPaths.Asset("commonsense"), "--limit", "8", "--batch-size", "3", "--output", output);

        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Matches(@"boolq\s*│\s*8\s*│", result.Out);
        Assert.Contains("golden", result.Out);
        using var json = JsonDocument.Parse(File.ReadAllText(output));
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(["stories260K-hf/boolq", "golden/boolq", "stories260K-hf/piqa", "golden/piqa"],
            entries.Select(e => $"{e.GetProperty("adapter_name").GetString()}/{e.GetProperty("task_name").GetString()}"));
        foreach (var e in entries)
        {
            Assert.Equal(8, e.GetProperty("metrics").GetProperty("total").GetInt32());
            Assert.Equal("choice", e.GetProperty("protocol").GetString());
            Assert.Equal(e.GetProperty("adapter_name").GetString() == "golden", e.TryGetProperty("router_profile", out _));
        }
        Assert.True(File.Exists(dir.File("out/results.router-golden.png")));
    }

    [Fact]
    public void TheGenerateProtocolRunsWithoutTheBaseModelWhenAsked()
    {
        using var dir = new TempDir();
        var output = dir.File("results.json");
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--adapter", GoldenAdapterDir, "--lora-only",
            "--tasks", "arc-c", "--data", RepoPaths.Asset("commonsense"), "--limit", "3", "--protocol", "generate", "--max-new-tokens", "6", "--output", output);

        Assert.True(result.ExitCode == 0, result.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(output));
        var entry = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("adapter", entry.GetProperty("adapter_name").GetString());
        Assert.Equal("generate", entry.GetProperty("protocol").GetString());
        Assert.Equal(3, entry.GetProperty("metrics").GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("--tasks", "arc-x", "unknown task \"arc-x\"")]
    [InlineData("--tasks", "csqa", "does not support")]
    [InlineData("--protocol", "vote", "unknown evaluation protocol \"vote\"")]
    [InlineData("--batch-size", "0", "batch size must be at least 1")]
    public void BadOptionsFailWithOneClearLine(string option, string value, string message)
    {
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--data", RepoPaths.Asset("commonsense"), "--limit", "1", option, value);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Err);
        Assert.DoesNotContain("   at ", result.Err);
    }

    [Fact]
    public void AFolderWithoutTheTaskFileNamesWhatWasTried()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--tasks", "boolq", "--data", dir.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("tried boolq/test.json, boolq.json, boolq.jsonl, boolq.parquet, boolq/validation.json", result.Err);
    }

    [Fact]
    public void MalformedRecordsAreReportedAndSkippedOrFailTheRunWhenStrict()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("boolq.jsonl"),
        [
            """{"question": "is the sky blue", "answer": true, "passage": "p"}""",
            """{"question": "is snow hot", "passage": "p"}""",
            """{"question": "is fire hot", "answer": true, "passage": "p"}""",
        ]);
        var lenient = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--tasks", "boolq", "--data", dir.Path, "--output", dir.File("r.json"));
        Assert.True(lenient.ExitCode == 0, lenient.Err);
        Assert.Contains($"skipped: {dir.File("boolq.jsonl")} record 1", lenient.Err);
        Assert.Matches(@"boolq\s*│\s*2\s*│", lenient.Out);

        var strict = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--tasks", "boolq", "--data", dir.Path, "--strict", "--output", dir.File("s.json"));
        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("record 1", strict.Err);
        Assert.Contains("answer", strict.Err);
        Assert.False(File.Exists(dir.File("s.json")));
    }
}
