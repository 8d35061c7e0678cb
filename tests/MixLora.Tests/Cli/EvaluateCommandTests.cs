using System.Text.Json;
using MixLora.Generation;
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

    [Fact]
    public void AnOwnTaskFileIsScoredByExactMatchAndNamedAfterTheFile()
    {
        // One output is the model's own greedy answer (its first line), the other is not: 1 of 2 right.
        string own;
        using (var model = Stories260K.Load())
        {
            var greedy = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1, MaxNewTokens = 8 };
            own = model.Tokenizer.Decode(new TokenGenerator(model.Model).Generate(model.Tokenizer.Encode("The sun"), greedy, model.StopIds).ToList())
                .TrimStart().Split('\n')[0].Trim();
        }
        using var dir = new TempDir();
        var file = dir.File("sky.jsonl");
        File.WriteAllLines(file, [JsonSerializer.Serialize(new { prompt = "The sun", output = own }), """{"prompt": "Mom said", "output": "no such answer"}"""]);
        var output = dir.File("results.json");

        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--data", file, "--max-new-tokens", "8", "--output", output);

        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains("on sky (2) with the exact metric (chosen by the file's first record)", result.Err);
        Assert.Matches(@"sky\s*│\s*2\s*│\s*50\.0\s*│", result.Out);
        using var json = JsonDocument.Parse(File.ReadAllText(output));
        var entry = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("stories260K-hf", entry.GetProperty("adapter_name").GetString());
        Assert.Equal("sky", entry.GetProperty("task_name").GetString());
        Assert.Equal("exact", entry.GetProperty("protocol").GetString());
        Assert.Equal(file, entry.GetProperty("data_path").GetString());
        var metrics = entry.GetProperty("metrics");
        Assert.Equal(0.5, metrics.GetProperty("accuracy").GetDouble());
        Assert.Equal((1, 2, 0, 0), (metrics.GetProperty("correct").GetInt32(), metrics.GetProperty("total").GetInt32(),
            metrics.GetProperty("unanswered").GetInt32(), metrics.GetProperty("skipped").GetInt32()));
    }

    [Fact]
    public void AnOwnChoiceTaskTakesItsNameAndLimitAndSkipsMalformedRecords()
    {
        using var dir = new TempDir();
        var file = dir.File("colours.json");
        File.WriteAllText(file, """
            [
              {"instruction": "What colour is the sky?", "options": ["blue", "green"], "answer": 0},
              {"instruction": "What colour is grass?", "options": ["blue"], "answer": 0},
              {"instruction": "What colour is snow?", "choices": ["black", "white"], "answer": "white"},
              {"instruction": "What colour is coal?", "options": ["black", "white"], "output": "black"}
            ]
            """);
        var output = dir.File("results.json");

        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--adapter", $"golden={GoldenAdapterDir}", "--data", file,
            "--metric", "choice", "--task-name", "mine", "--limit", "2", "--output", output);

        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains($"skipped: {file} record 1: field \"options\": has 1 option(s); expected at least 2", result.Err);
        Assert.Contains("on mine (2) with the choice metric", result.Err);
        Assert.Matches(@"mine\s*│\s*2\s*│", result.Out);
        using var json = JsonDocument.Parse(File.ReadAllText(output));
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(["stories260K-hf/mine", "golden/mine"],
            entries.Select(e => $"{e.GetProperty("adapter_name").GetString()}/{e.GetProperty("task_name").GetString()}"));
        foreach (var e in entries)
        {
            Assert.Equal("choice-sequence", e.GetProperty("protocol").GetString());
            Assert.Equal(2, e.GetProperty("metrics").GetProperty("total").GetInt32());
            Assert.Equal(1, e.GetProperty("metrics").GetProperty("skipped").GetInt32());
        }
    }

    [Theory]
    [InlineData("--tasks", "boolq", "--tasks picks built-in tasks; with --data FILE the file is the one task")]
    [InlineData("--protocol", "generate", "--protocol applies to the built-in tasks; a task file is scored with --metric exact|choice")]
    [InlineData("--choice-scoring", "sequence", "--choice-scoring applies to the built-in tasks")]
    [InlineData("--metric", "vote", "unknown metric \"vote\" (valid: exact, choice)")]
    public void OptionsThatDoNotFitATaskFileFailWithOneClearLine(string option, string value, string message)
    {
        using var dir = new TempDir();
        var file = dir.File("qa.jsonl");
        File.WriteAllText(file, """{"prompt": "p", "output": "a"}""");
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--data", file, option, value, "--output", dir.File("r.json"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: " + message, result.Err);
        Assert.DoesNotContain("   at ", result.Err);
    }

    [Theory]
    [InlineData("--metric", "exact", "--metric needs --data FILE")]
    [InlineData("--task-name", "mine", "--task-name needs --data FILE")]
    public void TaskFileOptionsWithoutATaskFileFail(string option, string value, string message)
    {
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--data", RepoPaths.Asset("commonsense"), "--tasks", "boolq", option, value);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: " + message, result.Err);
    }

    [Theory]
    [InlineData("missing.jsonl", null, "missing.jsonl: task data file not found")]
    [InlineData("empty.jsonl", "", "empty.jsonl: the file is empty")]
    [InlineData("broken.json", "[{\"prompt\": 1", "broken.json: not valid JSON")]
    public void ABrokenTaskFileFailsNamingIt(string name, string? content, string message)
    {
        using var dir = new TempDir();
        var file = dir.File(name);
        if (content is not null) File.WriteAllText(file, content);
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--data", file, "--output", dir.File("r.json"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"error: {dir.Path}/{message}", result.Err);
        Assert.False(File.Exists(dir.File("r.json")));
    }
}
