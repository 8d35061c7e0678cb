using System.Text.Json.Serialization;
using MixLora.Data;
using MixLora.Evaluation;
using MixLora.Tests.Support;
using Parquet.Serialization;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>A user's own task file (<see cref="EvaluationTasks.LoadCustom"/>): record format, metric choice, malformed records.</summary>
public class CustomTaskFileTests
{
    private static string Write(TempDir dir, string name, params string[] lines)
    {
        var file = dir.File(name);
        File.WriteAllLines(file, lines);
        return file;
    }

    [Fact]
    public void ExactRecordsAreRenderedAsTrainingRendersThemAndKeepTheirOutput()
    {
        using var dir = new TempDir();
        var file = Write(dir, "capitals.jsonl",
            """{"instruction": "Name the capital.", "input": "France", "output": " Paris\n"}""",
            """{"instruction": "Say hello.", "output": "hello"}""",
            """{"prompt": "Q: 2+2?\nA:", "output": "4", "options": ["3", "4"]}""");

        var task = EvaluationTasks.LoadCustom(file, options: new EvaluationDataOptions { Template = PromptTemplate.Alpaca });

        Assert.Equal(CustomTaskMetric.Exact, task.Metric);   // the first record has no options
        Assert.Equal("capitals", task.TaskKey);
        Assert.Equal(TaskRecordShape.Custom, task.Shape);
        Assert.Equal(file, task.SourceFile);
        Assert.Empty(task.Skipped);
        Assert.Equal(
        [
            PromptTemplate.Alpaca.Render("Name the capital.", "France").Prompt,
            PromptTemplate.Alpaca.Render("Say hello.", "").Prompt,
            "Q: 2+2?\nA:",
        ], task.Examples.Select(e => e.GenerationPrompt));
        Assert.Equal([" Paris\n", "hello", "4"], task.Examples.Select(e => e.Reference));
        Assert.All(task.Examples, e => Assert.Null(e.Options));
        Assert.Equal("### Instruction:\nSay hello.\n\n### Output:\n",
            EvaluationTasks.LoadCustom(file, taskName: "mine").Examples[1].GenerationPrompt); // the library's default template is moe_peft
        Assert.Equal("mine", EvaluationTasks.LoadCustom(file, taskName: " mine ").TaskKey);
    }

    [Fact]
    public void ChoiceRecordsTakeTheAnswerAsIndexOrTextOrTheOutput()
    {
        using var dir = new TempDir();
        var file = dir.File("pick.json");
        File.WriteAllText(file, """
            [
              {"prompt": "The sky is", "options": [" blue", " green", " red"], "answer": 2},
              {"prompt": "Grass is", "choices": [" blue", " green"], "answer": "green"},
              {"instruction": "Colour of snow?", "options": ["white", "black"], "output": "black "},
              {"prompt": "One", "options": ["1", "2"], "answer": "1"}
            ]
            """);

        var task = EvaluationTasks.LoadCustom(file);

        Assert.Equal(CustomTaskMetric.Choice, task.Metric);   // the first record has options
        Assert.Equal([2, 1, 1, 0], task.Examples.Select(e => e.Label)); // "1" is the option's text, not index 1
        Assert.Equal([" blue", " green", " red"], task.Examples[0].Options);
        Assert.Equal([" blue", " green"], task.Examples[1].Options);
        Assert.Equal(PromptTemplate.MoePeft.Render("Colour of snow?", "").Prompt, task.Examples[2].ChoicePrompt);
        Assert.Equal(task.Examples[0].Options, task.CandidateTextsOf(task.Examples[0]));
        Assert.Empty(task.Candidates);
    }

    private sealed class ChoiceRow
    {
        [JsonPropertyName("prompt")] public string? Prompt { get; set; }
        [JsonPropertyName("options")] public List<string> Options { get; set; } = [];
        [JsonPropertyName("answer")] public long Answer { get; set; }
    }

    [Fact]
    public async Task ParquetRowsAreReadLikeJsonRecords()
    {
        using var dir = new TempDir();
        var file = dir.File("quiz.parquet");
        await using (var stream = File.Create(file))
        {
            await ParquetSerializer.SerializeAsync(new List<ChoiceRow>
            {
                new() { Prompt = "The sky is", Options = [" blue", " green"], Answer = 0 },
                new() { Prompt = "Grass is", Options = [" blue", " green", " red"], Answer = 1 },
            }, stream);
        }

        var task = EvaluationTasks.LoadCustom(file);

        Assert.Equal(CustomTaskMetric.Choice, task.Metric);
        Assert.Equal("quiz", task.TaskKey);
        Assert.Equal([0, 1], task.Examples.Select(e => e.Label));
        Assert.Equal([" blue", " green", " red"], task.Examples[1].Options);
        Assert.Equal("Grass is", task.Examples[1].ChoicePrompt);
    }

    [Fact]
    public void MalformedChoiceRecordsAreSkippedNamingTheFieldOrFailWhenStrict()
    {
        using var dir = new TempDir();
        var file = Write(dir, "bad.jsonl",
            """{"prompt": "p", "options": ["a", "b"], "answer": 0}""",
            """{"prompt": "p", "options": ["a", "b"]}""",
            """{"prompt": "p", "options": ["a", "b"], "answer": 2}""",
            """{"prompt": "p", "options": ["a", "b"], "answer": "c"}""",
            """{"prompt": "p", "options": ["a"], "answer": 0}""",
            """{"prompt": "p", "options": ["a", " a "], "answer": 0}""",
            """{"prompt": "p", "options": ["a", "  "], "answer": 0}""",
            """{"prompt": "p", "options": ["a", 3], "answer": 0}""",
            """{"prompt": "p", "options": ["a", "b"], "choices": ["a", "b"], "answer": 0}""",
            """{"output": "a", "options": ["a", "b"]}""",
            """{"prompt": "p", "instruction": "i", "options": ["a", "b"], "answer": 0}""",
            """{"prompt": "p", "input": "x", "options": ["a", "b"], "answer": 0}""",
            """{"prompt": "p", "answer": 0}""",
            """{"prompt": "p", "options": ["a", "b"], "answer": 1.5}""",
            """{"prompt": "p", "options": "a b", "answer": 0}""",
            """{"instruction": "", "options": ["a", "b"], "answer": 0}""",
            """{"prompt": "p", "options": ["a", "b"], "answer": 1""",
            """{"prompt": "p", "options": ["a", "b"], "output": "b"}""");

        var task = EvaluationTasks.LoadCustom(file, CustomTaskMetric.Choice);

        Assert.Equal([0, 17], task.Examples.Select(e => e.Index));
        Assert.Equal([0, 1], task.Examples.Select(e => e.Label));
        Assert.Equal(
        [
            (1, "has neither \"answer\" (an option's 0-based index or text) nor \"output\" (an option's text)"),
            (2, "field \"answer\": index 2 is outside the 2 options (0-based)"),
            (3, "field \"answer\": \"c\" is not one of the 2 options"),
            (4, "field \"options\": has 1 option(s); expected at least 2"),
            (5, "field \"options\": options 0 and 1 are the same text \"a\""),
            (6, "field \"options\": option 1 is empty"),
            (7, "field \"options\": item 1 must be a string, got the number 3"),
            (8, "has both \"options\" and \"choices\"; give one list of options"),
            (9, "has neither \"instruction\" (rendered with the template) nor \"prompt\" (used as is)"),
            (10, "has both \"instruction\" and \"prompt\"; give one (instruction is rendered with the template, prompt is used as is)"),
            (11, "field \"input\": goes with \"instruction\" (the template places it); with \"prompt\", write it into the prompt"),
            (12, "field \"options\": missing (the choice metric needs a list of options; \"choices\" is read too)"),
            (13, "field \"answer\": must be an integer (number or string of digits), got the number 1.5"),
            (14, "field \"options\": must be a list of strings, got the string \"a b\""),
            (15, "field \"instruction\": is empty"),
            (16, "line 17 is not valid JSON"),
        ], task.Skipped.Select(s => (s.Index, s.Index == 16 ? s.Reason.Split(" (")[0] : s.Reason)));

        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.LoadCustom(file, CustomTaskMetric.Choice, new EvaluationDataOptions { Strict = true }));
        Assert.Equal($"{file}: record 1: has neither \"answer\" (an option's 0-based index or text) nor \"output\" (an option's text)", e.Message);
    }

    [Fact]
    public void MalformedExactRecordsAreSkippedNamingTheField()
    {
        using var dir = new TempDir();
        var file = Write(dir, "bad.jsonl",
            """{"prompt": "p", "output": "a"}""",
            """{"prompt": "p", "answer": 0, "options": ["a", "b"]}""",
            """{"prompt": "p", "output": " \n "}""",
            """{"prompt": "p", "output": 7}""",
            """["p", "a"]""");

        var task = EvaluationTasks.LoadCustom(file);

        Assert.Equal(CustomTaskMetric.Exact, task.Metric);
        Assert.Equal([0], task.Examples.Select(e => e.Index));
        Assert.Equal(
        [
            (1, "field \"output\": missing (the exact metric compares the greedy answer with it)"),
            (2, "field \"output\": is empty"),
            (3, "field \"output\": must be a string, got the number 7"),
            (4, "expected a JSON object, got a list"),
        ], task.Skipped.Select(s => (s.Index, s.Reason)));
    }

    [Fact]
    public void TheChoiceMetricOnAFileWithoutOptionsFailsNamingFileAndRecord()
    {
        using var dir = new TempDir();
        var file = Write(dir, "qa.jsonl", """{"prompt": "p", "output": "a"}""", """{"prompt": "q", "output": "b"}""");

        var lenient = Assert.Throws<InvalidFileException>(() => EvaluationTasks.LoadCustom(file, CustomTaskMetric.Choice));
        Assert.Equal($"{file}: no valid record: all 2 records are malformed (first: record 0: field \"options\": missing (the choice metric needs a list of options; \"choices\" is read too))",
            lenient.Message);
        var strict = Assert.Throws<InvalidFileException>(() => EvaluationTasks.LoadCustom(file, CustomTaskMetric.Choice, new EvaluationDataOptions { Strict = true }));
        Assert.StartsWith($"{file}: record 0: field \"options\": missing", strict.Message);
    }

    [Theory]
    [InlineData("empty.jsonl", "", "the file is empty")]
    [InlineData("blank.json", "  \n\n ", "the file is empty")]
    [InlineData("broken.json", "[{\"prompt\": \"p\", ", "not valid JSON")]
    [InlineData("object.json", "[]", "the file has no records")]
    [InlineData("scalars.jsonl", "1\n2\n", "no record is a JSON object")]
    [InlineData("notes.txt", "{\"prompt\": \"p\", \"output\": \"a\"}", "unsupported task data file")]
    public void BrokenFilesFailWithOneSentenceNamingTheFile(string name, string content, string problem)
    {
        using var dir = new TempDir();
        var file = dir.File(name);
        File.WriteAllText(file, content);
        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.LoadCustom(file));
        Assert.Equal(file, e.FilePath);
        Assert.StartsWith($"{file}: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void AMissingFileIsReported()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.LoadCustom(dir.File("nope.jsonl")));
        Assert.Equal($"{dir.File("nope.jsonl")}: task data file not found", e.Message);
    }
}
