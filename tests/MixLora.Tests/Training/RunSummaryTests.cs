using MixLora.Config;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

/// <summary>`mixlora info RUNDIR`: where a run stands, read from its checkpoint and metrics only.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class RunSummaryTests
{
    private const string Lora = "\"peft_type\": \"LORA\"";

    private static TrainingResult Train(string json, string output, bool resume = false, int? stopAfter = null)
    {
        using var model = Stories260K.Load();
        return Trainer.Run(model, TrainingConfig.Parse(json, "(test)"), new TrainingRunOptions
        {
            OutputDir = output, BaseDir = TrainerTests.DataDir(8), Resume = resume, StopAfterSteps = stopAfter, Seed = 7,
        });
    }

    [Fact]
    public void KilledRunShowsItsCheckpointAndAFinishedRunItsSavedAdapters()
    {
        using var dir = new TempDir();
        // batch 2 / micro 1 over 8 examples: 8 micro-steps; a checkpoint every 2; killed after 3 fused steps.
        string json = TrainerTests.Config(Lora, batch: 2, micro: 1, epochs: 1, saveStep: 2, extraAdapters: ", " + TrainerTests.SecondAdapter());
        Train(json, dir.Path, stopAfter: 3);

        var killed = RunSummary.Read(dir.Path);
        Assert.Equal(2, killed.CheckpointStep);
        Assert.NotNull(killed.CheckpointTimeUtc);
        Assert.Equal(["a", "b"], killed.Adapters.Select(a => a.Name));
        var a = killed.Adapters[0];
        var logged = new MetricsLog(a.Directory).Read();
        Assert.Equal(logged.Count, a.LoggedSteps);
        Assert.Equal(logged[^1].Loss, a.LastLoggedLoss);
        Assert.True(a.CheckpointMicroStep is >= 1 and <= 2, $"{a.CheckpointMicroStep}");
        // The checkpoint's loss is the logged loss of the micro-step it was taken after.
        Assert.Equal(logged.Single(l => l.MicroStep == a.CheckpointMicroStep).Loss, a.CheckpointLoss);
        Assert.All(killed.Adapters, x => Assert.False(x.Saved));
        Assert.All(killed.Adapters, x => Assert.Null(x.Stopped));

        Train(json, dir.Path, resume: true);
        var done = RunSummary.Read(dir.Path);
        Assert.All(done.Adapters, x => Assert.True(x.Saved));
        Assert.Equal(8, done.Adapters[0].CheckpointMicroStep);
        Assert.Equal(4, done.Adapters[0].CheckpointOptimizerStep);

        var cli = CliRunner.Run("info", dir.Path);
        Assert.Equal(0, cli.ExitCode);
        var text = System.Text.RegularExpressions.Regex.Replace(cli.Out, @"\x1b\[[0-9;]*m", "");      // colour codes
        Assert.Matches($@"checkpoint\s+after\s+fused\s+step\s+{done.CheckpointStep},", text);       // the title may wrap
        Assert.Matches(@"│ a\s+│ 8\s+│ 4\s+│", text);
        Assert.Contains("finished", text);
        Assert.DoesNotContain("--resume", text);
    }

    [Fact]
    public void AFolderThatIsNeitherRunNorModelIsAClearError()
    {
        using var dir = new TempDir();
        Assert.False(RunSummary.IsRunFolder(dir.Path));
        Assert.Contains("not a training run folder", Assert.Throws<InvalidFileException>(() => RunSummary.Read(dir.Path)).Message);
        var cli = CliRunner.Run("info", dir.Path);
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains("neither a model folder (no config.json) nor a training run folder", cli.Err);
    }
}
