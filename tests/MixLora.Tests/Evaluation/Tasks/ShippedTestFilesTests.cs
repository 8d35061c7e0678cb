using MixLora.Data;
using MixLora.Evaluation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>The eight LLM-Adapters test files in assets/commonsense parse completely, with the documented counts.</summary>
public class ShippedTestFilesTests
{
    [Theory]
    [InlineData("arc-c", 1172, new[] { 266, 311, 310, 285, 0 })]
    [InlineData("arc-e", 2376, new[] { 596, 585, 633, 561, 1 })]
    [InlineData("boolq", 3270, new[] { 2033, 1237 })]
    [InlineData("obqa", 500, new[] { 138, 126, 132, 104 })]
    [InlineData("piqa", 1838, new[] { 910, 928 })]
    [InlineData("siqa", 1954, new[] { 643, 654, 657 })]
    [InlineData("winogrande", 1267, new[] { 628, 639 })]
    [InlineData("hellaswag", 10042, new[] { 2515, 2485, 2584, 2458 })]
    public void EveryRecordParses(string task, int count, int[] perLabel)
    {
        var data = EvaluationTasks.Load(task, RepoPaths.Asset("commonsense"), new EvaluationDataOptions { Strict = true });
        Assert.Equal(RepoPaths.Asset("commonsense", CommonsenseTasks.Find(task)!.Folder, "test.json"), data.SourceFile);
        Assert.Equal(TaskRecordShape.LlmAdapters, data.Shape);
        Assert.Equal(count, data.Examples.Count);
        Assert.Empty(data.Skipped);
        Assert.Equal(Enumerable.Range(0, count), data.Examples.Select(e => e.Index));
        // Label histogram = the answer-word counts of the file (counted with grep when the files were added).
        Assert.Equal(perLabel, Enumerable.Range(0, perLabel.Length).Select(l => data.Examples.Count(e => e.Label == l)));
    }

    [Fact]
    public void LlmAdaptersPromptsEndAtTheAnswerCueStem()
    {
        var arc = EvaluationTasks.Load("arc-c", RepoPaths.Asset("commonsense", "ARC-Challenge", "test.json"));
        Assert.Equal(["answer1", "answer2", "answer3", "answer4", "answer5"], arc.Candidates);
        Assert.Equal(["1", "2", "3", "4", "5"], arc.CandidateTokenTexts);
        var first = arc.Examples[0];
        Assert.StartsWith("### Instruction:\nPlease choose the correct answer to the question: An astronomer observes", first.GenerationPrompt);
        Assert.EndsWith("\n\nAnswer format: answer1/answer2/answer3/answer4\n\n### Output:\n", first.GenerationPrompt);
        Assert.Equal(first.GenerationPrompt + "the correct answer is answer", first.ChoicePrompt);
        Assert.Equal(2, first.Label); // "answer3"

        var boolq = EvaluationTasks.Load("boolq", RepoPaths.Asset("commonsense"), new EvaluationDataOptions { Template = PromptTemplate.Alpaca });
        Assert.Equal([" true", " false"], boolq.CandidateTokenTexts);
        Assert.StartsWith("Below is an instruction that describes a task.", boolq.Examples[0].GenerationPrompt);
        Assert.EndsWith("\n\n### Response:\n", boolq.Examples[0].GenerationPrompt);
        Assert.Equal(boolq.Examples[0].GenerationPrompt + "the correct answer is", boolq.Examples[0].ChoicePrompt);
        Assert.Equal(1, boolq.Examples[0].Label); // "false"

        var piqa = EvaluationTasks.Load("piqa", RepoPaths.Asset("commonsense"));
        Assert.EndsWith("### Output:\nthe correct answer is solution", piqa.Examples[0].ChoicePrompt);
        Assert.Equal(["1", "2"], piqa.CandidateTokenTexts);
    }

    [Theory]
    [InlineData(new[] { "answer1", "answer2", "answer3" }, "answer")]
    [InlineData(new[] { "ending1", "ending2", "ending3", "ending4" }, "ending")]
    [InlineData(new[] { "true", "false" }, "")]
    [InlineData(new[] { "yes", "yesterday" }, "")] // the stem may not swallow a whole word
    [InlineData(new[] { "abc" }, "")]
    public void StemIsTheLongestCommonPrefix(string[] words, string stem) =>
        Assert.Equal(stem, LlmAdaptersChoice.Stem(words));
}
