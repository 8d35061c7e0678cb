using MixLora.Config;
using MixLora.Data;
using MixLora.Tests.Support;

namespace MixLora.Tests.Data;

/// <summary>From an adapter's task_name/data/prompt to training texts.</summary>
public class TrainingDataTests
{
    private static AdapterTrainingConfig Adapter(string taskName, string? data, string? prompt = null) =>
        new() { Name = "a", TaskName = taskName, Data = data, Prompt = prompt, Lr = 1e-3, BatchSize = 4, NumEpochs = 1, EvaluateBatchSize = 4 };

    [Fact]
    public void CasualDataUsesTheMoePeftTemplateByDefault()
    {
        var texts = TrainingData.Load(Adapter("", "instruct/moe-peft_dummy_data.json"), RepoPaths.Asset());
        Assert.Equal(64, texts.Count);
        Assert.Equal("### Instruction:\nCould you provide an introduction to MoE-PEFT?\n\n### Output:\n", texts[0].Prompt);
        Assert.StartsWith(texts[0].Prompt + "MoE-PEFT is an open-source LLMOps framework", texts[0].Full);
        Assert.EndsWith("and others.\n", texts[0].Full);
    }

    [Fact]
    public void CasualDataWithTheAlpacaPrompt()
    {
        var texts = TrainingData.Load(Adapter("casual", RepoPaths.Asset("instruct", "alpaca_en_demo_first40.json"), "alpaca"), "/");
        Assert.Equal(40, texts.Count);
        Assert.All(texts, t => Assert.StartsWith("Below is an instruction that describes a task", t.Prompt));
        Assert.Equal(15, texts.Count(t => t.Prompt.Contains("\n\n### Input:\n")));
    }

    [Fact]
    public void TaskKeysReadLlmAdaptersFilesWithTheAlpacaTemplate()
    {
        var texts = TrainingData.Load(Adapter("arc-c", "commonsense"), RepoPaths.Asset()); // folder holding ARC-Challenge/train.json
        Assert.Equal(20, texts.Count);
        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n" +
            "Please choose the correct answer to the question: George wants to warm his hands quickly by rubbing them. Which skin surface will produce the most heat?\n\n" +
            "Answer1: dry palms Answer2: wet palms Answer3: palms covered with oil Answer4: palms covered with lotion\n\n" +
            "Answer format: answer1/answer2/answer3/answer4\n\n### Response:\nthe correct answer is answer1\n", texts[0].Full);
        Assert.Equal("the correct answer is answer1\n", texts[0].Response);

        // The file itself and its own folder work as well; an explicit prompt wins.
        Assert.Equal(20, TrainingData.Load(Adapter("boolq", "commonsense/boolq/train.json"), RepoPaths.Asset()).Count);
        var moePeft = TrainingData.Load(Adapter("boolq", "commonsense/boolq", "moe_peft"), RepoPaths.Asset());
        Assert.StartsWith("### Instruction:\nPlease answer the following question with true or false", moePeft[0].Full);
    }

    [Fact]
    public void MultiTaskConcatenatesInTaskOrder()
    {
        var adapter = Adapter("boolq;arc-c", "commonsense/boolq/train.json;commonsense");
        var texts = TrainingData.Load(adapter, RepoPaths.Asset());
        Assert.Equal(40, texts.Count);
        Assert.All(texts.Take(20), t => Assert.Contains("true or false", t.Prompt));
        Assert.All(texts.Skip(20), t => Assert.Contains("Answer format: answer1/answer2", t.Prompt));
        var sources = TrainingData.ResolveSources(adapter, RepoPaths.Asset());
        Assert.Equal(["boolq", "arc-c"], sources.Select(s => s.Task!.Key));
        Assert.Equal(RepoPaths.Asset("commonsense", "ARC-Challenge", "train.json"), sources[1].Path);
    }

    [Fact]
    public void AnswersOutsideTheTaskAreRejected()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.json"), """
            [{"instruction": "q1", "input": "", "output": "the correct answer is true", "answer": "true"},
             {"instruction": "q2", "input": "", "output": "the correct answer is answer2", "answer": "answer2"}]
            """);
        var e = Assert.Throws<InvalidFileException>(() => TrainingData.Load(Adapter("boolq", "t.json"), dir.Path));
        Assert.Equal(dir.File("t.json") + ": record 1: answer \"answer2\" is not an answer of task boolq (true, false)", e.Message);
    }

    [Theory]
    [InlineData("casual", null, "missing key \"data\": a casual adapter needs a .json or .jsonl instruction data file")]
    [InlineData("casual", "nope.json", "data file \"nope.json\" not found")]
    [InlineData("casual", "commonsense", "data \"commonsense\" is a folder; expected a .json or .jsonl file")]
    [InlineData("casual", "SOURCES.md", "data file \"SOURCES.md\" is not a .json or .jsonl file")]
    [InlineData("arc-c", null, "task \"arc-c\" needs a data path in key \"data\" (the LLM-Adapters ARC-Challenge/train.json")]
    [InlineData("piqa", "commonsense", "data folder \"commonsense\" of task \"piqa\" has neither train.json nor piqa/train.json")]
    [InlineData("obqa", "obqa.json", "data file \"obqa.json\" of task \"obqa\" not found")]
    public void MissingDataIsReportedBeforeLoading(string task, string? data, string expected)
    {
        var e = Assert.ThrowsAny<MixLoraException>(() => TrainingData.ResolveSources(Adapter(task, data), RepoPaths.Asset()));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RegistryListsTheSupportedTasks()
    {
        Assert.Equal(["arc-e", "arc-c", "boolq", "obqa", "piqa", "siqa", "hellaswag", "winogrande"], CommonsenseTasks.Keys);
        Assert.Equal("ARC-Challenge", CommonsenseTasks.Find("arc-c")!.Folder);
        Assert.Equal("social_i_qa", CommonsenseTasks.Find("siqa")!.Folder);
        Assert.Equal(["ending1", "ending2", "ending3", "ending4"], CommonsenseTasks.Find("hellaswag")!.Answers);
        Assert.Equal("arc_e", CommonsenseTasks.Find("arc-e")!.AdapterNameStem);
        Assert.Null(CommonsenseTasks.Find("csqa"));
        Assert.True(CommonsenseTasks.IsReferenceKey("glue:cola"));
    }
}
