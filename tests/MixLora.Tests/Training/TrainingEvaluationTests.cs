using MixLora.Config;
using MixLora.Tests.Support;
using MixLora.Training;

namespace MixLora.Tests.Training;

public class TrainingEvaluationTests
{
    private static AdapterTrainingConfig Adapter(string taskName, string? data) =>
        new() { Name = "a", TaskName = taskName, Data = data, Lr = 1e-3, BatchSize = 4, NumEpochs = 1, EvaluateBatchSize = 4 };

    [Fact]
    public void AMultiTaskAdapterIsEvaluatedOnEachTaskFromTheTestFilesBesideItsTrainingData()
    {
        using var dir = new TempDir();
        var messages = new List<string>();
        var evaluation = TrainingEvaluation.Create(Adapter("arc-c;boolq", "commonsense;commonsense/boolq/train.json"),
            RepoPaths.Asset(), fallbackDir: null, dir.Path, messages.Add);

        Assert.NotNull(evaluation);
        Assert.Empty(messages);
        Assert.Equal(["arc-c", "boolq"], evaluation.Tasks.Select(t => t.TaskKey));
        Assert.Equal([1172, 3270], evaluation.Tasks.Select(t => t.Examples.Count));
        Assert.Equal(RepoPaths.Asset("commonsense", "boolq", "test.json"), evaluation.Tasks[1].SourceFile);
    }

    [Fact]
    public void CasualAdaptersAreNotEvaluatedAndMissingTestDataIsReported()
    {
        using var dir = new TempDir();
        var messages = new List<string>();
        Assert.Null(TrainingEvaluation.Create(Adapter("casual", "instruct/moe-peft_dummy_data.json"), RepoPaths.Asset(), null, dir.Path, messages.Add));
        Assert.Empty(messages);

        // A training file in a folder without test data and no fallback folder: reported, not an error.
        Directory.CreateDirectory(dir.File("only-train/boolq"));
        File.Copy(RepoPaths.Asset("commonsense", "boolq", "train.json"), dir.File("only-train/boolq/train.json"));
        Assert.Null(TrainingEvaluation.Create(Adapter("boolq", "only-train/boolq/train.json"), dir.Path, null, dir.File("out"), messages.Add));
        Assert.Contains("no test data for task \"boolq\"", Assert.Single(messages));
    }
}
