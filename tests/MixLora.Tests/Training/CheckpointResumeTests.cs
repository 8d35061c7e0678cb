using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

public class CheckpointResumeTests
{
    [Theory]
    [InlineData("adamw")]
    [InlineData("sgd")]
    public void Resuming_from_a_checkpoint_is_bit_identical_to_an_uninterrupted_run(string kind)
    {
        using var temp = new TempDir();
        var dir = temp.File("checkpoint-4");

        SortedDictionary<string, byte[]> uninterrupted;
        using (var run = FakeTrainingRun.Start(kind))
        {
            run.RunTo(FakeTrainingRun.TotalSteps, dir, saveAt: 4);
            uninterrupted = run.Fingerprint();
        }

        SortedDictionary<string, byte[]> resumed;
        using (var run = FakeTrainingRun.Resume(kind, dir))
        {
            Assert.Equal(4, run.Step);
            run.RunTo(FakeTrainingRun.TotalSteps);
            resumed = run.Fingerprint();
        }

        Assert.Equal(uninterrupted.Keys, resumed.Keys);
        Assert.Contains(FakeTrainingRun.LateName + "#step", resumed.Keys);           // state created after the resume
        Assert.DoesNotContain(FakeTrainingRun.NeverName + "#step", resumed.Keys);    // never updated, never stateful
        foreach (var (key, bytes) in uninterrupted)
            Assert.True(bytes.AsSpan().SequenceEqual(resumed[key]), $"{key} differs after resume");
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("sgd")]
    public void Resuming_without_the_optimizer_state_is_detectably_different(string kind)
    {
        // Guards the test above: if optimizer state did not matter to the fingerprint, it could not catch its loss.
        using var temp = new TempDir();
        var dir = temp.File("checkpoint-4");
        byte[] expected;
        using (var run = FakeTrainingRun.Start(kind))
        {
            run.RunTo(FakeTrainingRun.TotalSteps, dir, saveAt: 4);
            expected = run.Fingerprint()[run.Parameters[0].Name];
        }
        using var fresh = FakeTrainingRun.Resume(kind, dir, restoreOptimizer: false);
        fresh.RunTo(FakeTrainingRun.TotalSteps);
        Assert.False(expected.AsSpan().SequenceEqual(fresh.Fingerprint()[fresh.Parameters[0].Name]));
    }
}
