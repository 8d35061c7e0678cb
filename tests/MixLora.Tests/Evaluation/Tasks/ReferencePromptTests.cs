using MixLora.Evaluation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>
/// Original dataset records → the reference's prompts (spec §8.2). The expected strings are written out from the
/// spec's text, not produced by the code under test.
/// </summary>
public class ReferencePromptTests
{
    [Theory]
    [InlineData("arc-c",
        """{"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?", "choices": {"text": ["Planetary density will decrease.", "Planetary years will become longer.", "Planetary days will become shorter.", "Planetary gravity will become stronger."], "label": ["A", "B", "C", "D"]}, "answerKey": "C"}""",
        "Please choose the correct answer to the question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation? (A) Planetary density will decrease. (B) Planetary years will become longer. (C) Planetary days will become shorter. (D) Planetary gravity will become stronger.\nAnswer:",
        6, " C")]
    [InlineData("arc-e",
        """{"id": "NYSEDREGENTS_2015_4_8", "question": "Which object is a solid?", "choices": {"text": ["milk", "air", "rock"], "label": ["1", "2", "3"]}, "answerKey": "3"}""",
        "Please choose the correct answer to the question: Which object is a solid? (1) milk (2) air (3) rock\nAnswer:",
        2, " 3")]
    [InlineData("boolq",
        """{"question": "does ethanol take more energy make that produces", "answer": false, "passage": "All biomass goes through at least some of these steps."}""",
        "Please answer the following question with true or false: does ethanol take more energy make that produces?\nAnswer:",
        1, " false")]
    [InlineData("obqa",
        """{"id": "7-980", "question_stem": "The sun is responsible for", "choices": {"text": ["puppies learning new tricks", "children growing up and getting old", "flowers wilting in a vase", "plants sprouting, blooming and wilting"], "label": ["A", "B", "C", "D"]}, "answerKey": "D"}""",
        "Please choose the correct answer to the question: The sun is responsible for (A) puppies learning new tricks (B) children growing up and getting old (C) flowers wilting in a vase (D) plants sprouting, blooming and wilting\nAnswer:",
        3, " D")]
    [InlineData("piqa",
        """{"goal": "How do I ready a guinea pig cage for it's new occupants?", "sol1": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips.", "sol2": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material.", "label": 0}""",
        "Below is a common task along with two possible solutions labeled (A) and (B). Please select the appropriate solution to achieve the task:\nHow do I ready a guinea pig cage for it's new occupants?\n\n(A) Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips.\n(B) Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material.\n\nCorrect solution:",
        0, " A")]
    [InlineData("siqa",
        """{"context": "Tracy didn't go home that evening and resisted Riley's attacks.", "question": "What does Tracy need to do before this?", "answerA": "make a new plan", "answerB": "Go home and see Riley", "answerC": "Find somewhere to go", "label": "3"}""",
        "Please choose the correct answer to the question.\nQuestion: Tracy didn't go home that evening and resisted Riley's attacks. What does Tracy need to do before this?\n(A) make a new plan\n(B) Go home and see Riley\n(C) Find somewhere to go\nAnswer:",
        2, " C")]
    [InlineData("hellaswag",
        """{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "3"}""",
        "Please choose the correct ending to complete the given sentence.\nSentence: Roof shingle removal. A man is sitting on a roof. he\n(A) is using wrap to wrap a pair of skis.\n(B) is ripping level tiles off.\n(C) is holding a rubik's cube.\n(D) starts pulling up roofing on a roof.\nAnswer:",
        3, " D")]
    [InlineData("winogrande",
        """{"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.", "option1": "Sarah", "option2": "Maria", "answer": "2"}""",
        "Please choose the correct answer to fill in the blank to complete the given sentence.\nSentence: Sarah was a much better surgeon than Maria so _ always got the easier cases.\n(A) Sarah\n(B) Maria\nAnswer:",
        1, " B")]
    public void OriginalRecordsGiveTheReferencePromptLabelAndTrainSuffix(string task, string record, string prompt, int label, string suffix)
    {
        using var dir = new TempDir();
        var file = dir.File(task + ".jsonl");
        File.WriteAllText(file, record + "\n");

        var data = EvaluationTasks.Load(task, file, new EvaluationDataOptions { Strict = true });
        Assert.Equal(TaskRecordShape.Original, data.Shape);
        var example = Assert.Single(data.Examples);
        Assert.Equal(prompt, example.ChoicePrompt);
        Assert.Equal(prompt, example.GenerationPrompt);
        Assert.Equal(label, example.Label);
        Assert.Equal(suffix, data.CandidateTokenTexts[label]);
        Assert.Equal(suffix[1..], data.Candidates[label]);

        var text = Assert.Single(EvaluationTasks.LoadTrainingTexts(task, file));
        Assert.Equal(prompt, text.Prompt);
        Assert.Equal(prompt + suffix, text.Full);
    }

    [Fact]
    public void CandidatesAndSplitsFollowTheReferenceTable()
    {
        Assert.Equal(["1", "2", "3", "4", "A", "B", "C", "D", "E"], ReferenceTaskFormats.Find("arc-c")!.Candidates);
        Assert.Equal(["1", "2", "3", "4", "A", "B", "C", "D", "E"], ReferenceTaskFormats.Find("arc-e")!.Candidates);
        Assert.Equal(["true", "false"], ReferenceTaskFormats.Find("boolq")!.Candidates);
        Assert.Equal(["A", "B", "C", "D"], ReferenceTaskFormats.Find("obqa")!.Candidates);
        Assert.Equal(["A", "B"], ReferenceTaskFormats.Find("piqa")!.Candidates);
        Assert.Equal(["A", "B", "C"], ReferenceTaskFormats.Find("siqa")!.Candidates);
        Assert.Equal(["A", "B", "C", "D"], ReferenceTaskFormats.Find("hellaswag")!.Candidates);
        Assert.Equal(["A", "B"], ReferenceTaskFormats.Find("winogrande")!.Candidates);
        Assert.Equal(["test", "test", "validation", "test", "validation", "validation", "validation", "validation"],
            MixLora.Data.CommonsenseTasks.Keys.Select(EvaluationTasks.EvalSplit));
    }

    [Fact]
    public void NumericAndStringLabelsAreTheSame()
    {
        using var dir = new TempDir();
        var file = dir.File("w.jsonl");
        File.WriteAllText(file, """
            {"sentence": "s _", "option1": "x", "option2": "y", "answer": 1}
            {"sentence": "s _", "option1": "x", "option2": "y", "answer": "1"}
            {"activity_label": "a", "ctx": "c", "endings": ["1", "2", "3", "4"], "label": 2}
            """);
        var data = EvaluationTasks.Load("winogrande", file);
        Assert.Equal([0, 0], data.Examples.Select(e => e.Label));
        Assert.Equal(2, data.Skipped[0].Index); // a HellaSwag record is not a WinoGrande one
        Assert.Equal("field \"sentence\": missing", data.Skipped[0].Reason);
    }
}
