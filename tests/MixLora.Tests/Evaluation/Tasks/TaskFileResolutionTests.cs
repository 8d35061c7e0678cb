using MixLora.Evaluation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>Finding a task's evaluation file in a data folder (LLM-Adapters and Hugging Face layouts).</summary>
public class TaskFileResolutionTests
{
    [Theory]
    [InlineData("arc-c", "ARC-Challenge/test.json")]
    [InlineData("arc-c", "arc-c.jsonl")]
    [InlineData("arc-c", "arc-c/test.json")]
    [InlineData("arc-c", "arc-c/test-00000-of-00001.parquet")]
    [InlineData("siqa", "social_i_qa/test.json")]
    [InlineData("siqa", "siqa.parquet")]
    [InlineData("siqa", "siqa/validation.jsonl")]
    [InlineData("siqa", "siqa/validation-00000-of-00001.parquet")]
    public void EachLayoutIsFound(string task, string relative)
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, "");
        Assert.Equal(file, EvaluationTasks.ResolveFile(task, dir.Path));
    }

    [Fact]
    public void TheLlmAdaptersFileWinsOverOriginalRecords()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("obqa"));
        File.WriteAllText(dir.File("obqa/test-00000-of-00001.parquet"), "");
        File.WriteAllText(dir.File("obqa.json"), "");
        Assert.Equal(dir.File("obqa.json"), EvaluationTasks.ResolveFile("obqa", dir.Path));
        Directory.CreateDirectory(dir.File("openbookqa"));
        File.WriteAllText(dir.File("openbookqa/test.json"), "");
        Assert.Equal(dir.File("openbookqa/test.json"), EvaluationTasks.ResolveFile("obqa", dir.Path));
    }

    [Fact]
    public void AFolderWithoutTheTaskListsWhatWasTried()
    {
        var e = Assert.Throws<MixLoraException>(() => EvaluationTasks.ResolveFile("winogrande", RepoPaths.Asset("instruct")));
        Assert.StartsWith($"no evaluation data of task \"winogrande\" in folder \"{RepoPaths.Asset("instruct")}\"", e.Message);
        Assert.EndsWith("tried winogrande/test.json, winogrande.json, winogrande.jsonl, winogrande.parquet, winogrande/validation.json, " +
                        "winogrande/validation.jsonl, winogrande/validation.parquet, winogrande/validation-00000-of-00001.parquet", e.Message);

        var missing = Assert.Throws<MixLoraException>(() => EvaluationTasks.ResolveFile("piqa", "/nonexistent/data"));
        Assert.StartsWith("evaluation data folder \"/nonexistent/data\" of task \"piqa\" not found", missing.Message);
    }

    [Fact]
    public void LoadAcceptsAFolder()
    {
        var data = EvaluationTasks.Load("obqa", RepoPaths.Asset("commonsense"));
        Assert.Equal(RepoPaths.Asset("commonsense", "openbookqa", "test.json"), data.SourceFile);
        Assert.Equal(500, data.Examples.Count);
    }
}
