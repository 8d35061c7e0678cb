using MixLora.Config;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

/// <summary>A fresh run never mixes with or silently replaces an earlier one, and a failed run leaves no empty folder.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class RunFolderTests
{
    private const string Lora = "\"peft_type\": \"LORA\"";

    private static TrainingResult Train(string output, bool overwrite = false, bool resume = false)
    {
        using var model = Stories260K.Load();
        return Trainer.Run(model, TrainingConfig.Parse(TrainerTests.Config(Lora, batch: 2, micro: 2), "(test)"), new TrainingRunOptions
        {
            OutputDir = output, BaseDir = TrainerTests.DataDir(4), Overwrite = overwrite, Resume = resume, Seed = 7,
        });
    }

    [Fact]
    public void AnEarlierRunNeedsResumeOrOverwriteAndOverwriteKeepsOtherFiles()
    {
        using var dir = new TempDir();
        var run = dir.File("run");
        Train(run);
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(run, "a", "stale.txt"), "from the first run");

        var refused = Assert.Throws<MixLoraException>(() => Train(run));
        Assert.Equal($"{run}: holds an earlier training run; continue it with --resume, or start again with --overwrite (deletes its checkpoint and adapters)", refused.Message);
        Assert.True(File.Exists(Path.Combine(run, "a", "stale.txt")));     // refused before touching anything

        var again = Train(run, overwrite: true);
        Assert.True(again.Adapters.Single().Completed);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(run, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(run, "a", "stale.txt")));    // the adapter folder was replaced
        Assert.Equal(2, new MetricsLog(Path.Combine(run, "a")).Read().Count);

        Assert.True(Train(run, resume: true).Adapters.Single().Completed);  // resuming a finished run is allowed
    }

    [Fact]
    public void AFolderWithOtherFilesIsUsedOnlyWithOverwriteAndNothingIsDeleted()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("keep.json"), "{}");
        Directory.CreateDirectory(dir.File("sub"));
        File.WriteAllText(dir.File("sub/data.json"), "[]");
        var refused = Assert.Throws<MixLoraException>(() => RunFolder.Prepare(dir.Path, resume: false, overwrite: false));
        Assert.Contains("the output folder is not empty; choose another --output, or pass --overwrite", refused.Message);
        Assert.Null(RunFolder.Prepare(dir.Path, resume: false, overwrite: true));
        Assert.True(File.Exists(dir.File("keep.json")) && File.Exists(dir.File("sub/data.json")));
    }

    [Fact]
    public void OnlyFoldersTheRunCreatedAndLeftEmptyAreRemoved()
    {
        using var dir = new TempDir();
        var fresh = dir.File("fresh/run");
        var created = RunFolder.Prepare(fresh, resume: false, overwrite: false);
        Assert.Equal(dir.File("fresh"), created);                                   // the missing parent too
        Directory.CreateDirectory(Path.Combine(fresh, "a"));
        RunFolder.RemoveIfEmpty(created);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));

        Assert.Null(RunFolder.Prepare(dir.Path, resume: false, overwrite: false));  // existed (empty): never removed
        var kept = RunFolder.Prepare(dir.File("kept"), resume: false, overwrite: false);
        File.WriteAllText(dir.File("kept/metrics.jsonl"), "");
        RunFolder.RemoveIfEmpty(kept);                                              // holds a file: kept
        Assert.True(File.Exists(dir.File("kept/metrics.jsonl")));
    }

    [Fact]
    public void TheCommandRefusesBeforeLoadingTheModel()
    {
        using var dir = new TempDir();
        var config = dir.File("c.json");
        File.WriteAllText(config, TrainerTests.Config(Lora));
        Directory.CreateDirectory(dir.File("run/checkpoint"));
        File.WriteAllText(dir.File("run/checkpoint/run.json"), "{}");
        var result = CliRunner.Run("train", "--config", config, "--output", dir.File("run"), "--model", "/nonexistent/model");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("holds an earlier training run; continue it with --resume", result.Err); // not "model folder not found"
    }
}
