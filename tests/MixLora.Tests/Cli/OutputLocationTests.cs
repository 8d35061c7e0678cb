using System.Text.Json;
using MixLora.Config;
using MixLora.Tests.Config.TrainingConfigs;
using MixLora.Tests.Support;

namespace MixLora.Tests.Cli;

/// <summary>
/// Output locations are checked before any work: a file where a folder must be created, a folder where a file goes,
/// or a place that cannot be written is one sentence and exit code 2, for every command that writes.
/// </summary>
public class OutputLocationTests
{
    private static readonly string Ids = "1,403,407";

    /// <summary>Each writing command with its output placeholder {0}.</summary>
    public static TheoryData<string, bool> Commands => new()
    {
        // command line (output = {0}), whether the output is a folder
        { $"logits --model {Stories260K.Dir} --input-ids {Ids} --output {{0}}", false },
        { $"evaluate --model {Stories260K.Dir} --tasks boolq --data {RepoPaths.Asset("commonsense")} --limit 2 --output {{0}}", false },
        { $"init --tasks {RepoPaths.Asset("instruct", "moe-peft_dummy_data.json")} --output {{0}}", false },
        { $"train --config {TrainConfig()} --model {Stories260K.Dir} --output {{0}}", true },
        { $"train --model {Stories260K.Dir} --output {{0}}", true },
        { $"convert llama2c --checkpoint {RepoPaths.Asset("stories260K", "stories260K.bin")} --tokenizer {RepoPaths.Asset("stories260K", "tok512.model")} --output {{0}}", true },
        { $"convert legacy --adapter {RepoPaths.Asset("golden", "mixlora-stories260K", "adapter")} --output {{0}}", true },
    };

    /// <summary>A valid training config file (only loaded: the output check comes before the data is read).</summary>
    private static string TrainConfig()
    {
        var path = Path.Combine(Path.GetTempPath(), "mixlora-output-location-tests", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        MixLora.IO.AtomicFile.WriteAllText(path, TrainingConfigFixtures.Minimal());
        return path;
    }

    private static CliRunner.Result Run(string commandLine, string output) =>
        CliRunner.Run(string.Format(commandLine, output).Split(' '));

    private static void AssertUsageError(CliRunner.Result result, string expected)
    {
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Err}");
        Assert.Contains(expected, result.Err);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.Single(result.Err.Trim().Split('\n'));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void AFileInTheWayOfTheFolderIsAUsageError(string commandLine, bool folderOutput)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("plain"), "keep me");
        var output = dir.File(folderOutput ? "plain/run" : "plain/out.json");
        AssertUsageError(Run(commandLine, output), $"--output {output}: {dir.File("plain")} is a file, so the folder cannot be created there");
        Assert.Equal("keep me", File.ReadAllText(dir.File("plain")));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void TheWrongKindOfTargetIsAUsageError(string commandLine, bool folderOutput)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("plain"), "keep me");
        var result = Run(commandLine, folderOutput ? dir.File("plain") : dir.Path);
        AssertUsageError(result, folderOutput ? "is a file; give the path of a folder" : "is a folder; give the path of a file to write");
        Assert.Equal(["plain"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void AnUnwritablePlaceIsAUsageError(string commandLine, bool folderOutput)
    {
        // /proc refuses new files even to root, unlike a read-only mode bit.
        var result = Run(commandLine, folderOutput ? "/proc/self/mixlora-run" : "/proc/self/mixlora.json");
        AssertUsageError(result, "cannot write in /proc/self");
    }

    [Fact]
    public void EvaluationResultsSurviveAFailedFinalWrite()
    {
        using var dir = new TempDir();
        if (DeviceNodes.Make(dir, "full", DeviceNodes.Full) is not { } full) return; // not root: mknod is not allowed
        var result = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--tasks", "boolq", "--data", RepoPaths.Asset("commonsense"),
            "--limit", "3", "--output", full);
        Assert.Equal(1, result.ExitCode);
        var match = System.Text.RegularExpressions.Regex.Match(result.Err, @"could not write .*; the results were saved to (\S+\.json)");
        Assert.True(match.Success, result.Err);
        var fallback = match.Groups[1].Value;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(fallback));
            var entry = Assert.Single(json.RootElement.EnumerateArray());
            Assert.Equal(3, entry.GetProperty("metrics").GetProperty("total").GetInt32());
            Assert.Matches(@"boolq\s*│\s*3\s*│", result.Out); // the table was printed too
        }
        finally
        {
            File.Delete(fallback);
        }
    }

    [Fact]
    public void DashWritesJsonToStandardOutput()
    {
        var evaluated = CliRunner.Run("evaluate", "--model", Stories260K.Dir, "--tasks", "boolq", "--data", RepoPaths.Asset("commonsense"),
            "--limit", "2", "--output", "-");
        Assert.True(evaluated.ExitCode == 0, evaluated.Err);
        using (var json = JsonDocument.Parse(evaluated.Out))
            Assert.Equal("boolq", Assert.Single(json.RootElement.EnumerateArray()).GetProperty("task_name").GetString());

        var init = CliRunner.Run("init", "--tasks", "boolq", "--output", "-");
        Assert.True(init.ExitCode == 0, init.Err);
        var config = TrainingConfig.Parse(init.Out, "stdout");
        Assert.Equal("boolq", config.Lora[0].TaskName);
        Assert.Contains("wrote the config to standard output", init.Err);

        AssertUsageError(CliRunner.Run("init", "--tasks", "boolq", "--output", "-", "--append"), "--append needs a config file");
        AssertUsageError(CliRunner.Run("logits", "--model", Stories260K.Dir, "--input-ids", Ids, "--output", "-"), "binary safetensors");
        AssertUsageError(CliRunner.Run("train", "--model", Stories260K.Dir, "--output", "-"), "standard output cannot hold it");
    }
}
