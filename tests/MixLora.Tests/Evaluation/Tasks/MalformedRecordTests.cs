using MixLora.Evaluation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>Malformed records are skipped (default) or fail the load (strict); broken files always fail.</summary>
public class MalformedRecordTests
{
    private const string GoodArc = """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "A"}""";

    private static readonly string[] ArcLines =
    [
        GoodArc,
        """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}}""",
        """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "F"}""",
        """{"question": "q", "choices": {"text": ["x", "y", "z"], "label": ["A", "B"]}, "answerKey": "A"}""",
        """{"question": 7, "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "A"}""",
        """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": """,
        "",
        """{"question": "q", "choices": {"text": ["x"], "label": ["A"]}, "answerKey": "A"}""",
        """{"question": "q", "choices": {"text": ["x", 2], "label": ["A", "B"]}, "answerKey": "A"}""",
        """{"question": "q", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "C"}""",
        "[1, 2]",
        GoodArc.Replace("\"A\"}", "\"B\"}"),
    ];

    [Fact]
    public void NonStrictSkipsEachMalformedRecordNamingTheField()
    {
        using var dir = new TempDir();
        var file = dir.File("arc.jsonl");
        File.WriteAllLines(file, ArcLines);
        var data = EvaluationTasks.Load("arc-c", file);

        Assert.Equal([0, 10], data.Examples.Select(e => e.Index)); // the blank line is not a record
        Assert.Equal([4, 5], data.Examples.Select(e => e.Label));
        Assert.All(data.Skipped, s => Assert.Equal(file, s.File));
        Assert.Equal(
        [
            (1, "field \"answerKey\": missing"),
            (2, "field \"answerKey\": \"F\" is not a candidate (1, 2, 3, 4, A, B, C, D, E)"),
            (3, "field \"choices\": has 3 texts but 2 labels"),
            (4, "field \"question\": must be a string, got the number 7"),
            (5, "line 6 is not valid JSON"),
            (6, "field \"choices\": has 1 choices; expected 2 to 5"),
            (7, "field \"choices.text\": item 1 must be a string, got the number 2"),
            (8, "field \"answerKey\": \"C\" is not one of the record's choice labels (A, B)"),
            (9, "expected a JSON object, got a list"),
        ], data.Skipped.Select(s => (s.Index, s.Index == 5 ? s.Reason.Split(" (")[0] : s.Reason)));
        Assert.Equal(file + " record 1: field \"answerKey\": missing", data.Skipped[0].ToString());
    }

    [Fact]
    public void StrictThrowsAtTheFirstMalformedRecord()
    {
        using var dir = new TempDir();
        var file = dir.File("arc.jsonl");
        File.WriteAllLines(file, ArcLines);
        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("arc-c", file, new EvaluationDataOptions { Strict = true }));
        Assert.Equal(file, e.FilePath);
        Assert.Equal(file + ": record 1: field \"answerKey\": missing", e.Message);
    }

    [Fact]
    public void LlmAdaptersRecordsNeedAKnownAnswer()
    {
        using var dir = new TempDir();
        var file = dir.File("test.json");
        File.WriteAllText(file, """
            [{"instruction": "q0", "input": "", "output": "the correct answer is solution2", "answer": "solution2"},
             {"instruction": "q1", "input": "", "output": "the correct answer is solution1"},
             {"instruction": "q2", "input": "", "output": "the correct answer is answer1", "answer": "answer1"},
             {"instruction": "q3", "input": 5, "answer": "solution1"},
             {"instruction": "", "answer": "solution1"},
             {"instruction": "q5", "input": "ctx", "answer": "solution1"}]
            """);
        var data = EvaluationTasks.Load("piqa", file);
        Assert.Equal(TaskRecordShape.LlmAdapters, data.Shape);
        Assert.Equal([(0, 1), (5, 0)], data.Examples.Select(e => (e.Index, e.Label)));
        Assert.Equal("### Instruction:\nq5\n\n### Input:\nctx\n\n### Output:\n", data.Examples[1].GenerationPrompt);
        Assert.Equal(
        [
            (1, "field \"answer\": missing"),
            (2, "field \"answer\": \"answer1\" is not an answer of task piqa (solution1, solution2)"),
            (3, "field \"input\": must be a string, got the number 5"),
            (4, "field \"instruction\": is empty"),
        ], data.Skipped.Select(s => (s.Index, s.Reason)));

        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("piqa", file, new EvaluationDataOptions { Strict = true }));
        Assert.Equal(file + ": record 1: field \"answer\": missing", e.Message);
    }

    [Theory]
    [InlineData("e.jsonl", "", "the file is empty")]
    [InlineData("e.json", "  \n ", "the file is empty")]
    [InlineData("a.json", "[]", "the file has no records")]
    [InlineData("o.json", "[{\"question\": \"q\"", "not valid JSON (line 1")]
    [InlineData("s.json", "[\"a\", 1]", "no record is a JSON object")]
    [InlineData("m.jsonl", "{\"question\": \"q\", \"answer\": 3}\n{\"answer\": true}", "record 0: field \"answer\": must be true or false, got the number 3")]
    [InlineData("d.csv", "question,answer", "unsupported task data file")]
    public void BrokenFilesFailInBothModes(string name, string content, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(name), content);
        foreach (var strict in new[] { false, true })
        {
            var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("boolq", dir.File(name), new EvaluationDataOptions { Strict = strict }));
            Assert.Equal(dir.File(name), e.FilePath);
            Assert.Contains(expected, e.Message);
        }
    }

    [Fact]
    public void AFileOfOnlyMalformedRecordsIsAnErrorEvenWhenSkipping()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("m.jsonl"), "{\"question\": \"q\", \"answer\": \"yes\"}\n{\"answer\": true}\n");
        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("boolq", dir.File("m.jsonl")));
        Assert.Equal(dir.File("m.jsonl") + ": no valid record: all 2 records are malformed " +
                     "(first: record 0: field \"answer\": must be true or false, got the string \"yes\")", e.Message);
    }

    [Fact]
    public void UnknownTasksAndMissingFilesAreNamed()
    {
        var missing = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("boolq", "/nonexistent/boolq.json"));
        Assert.Equal("/nonexistent/boolq.json: task data file not found", missing.Message);

        var unknown = Assert.Throws<MixLoraException>(() => EvaluationTasks.Load("boolqq", RepoPaths.Asset("commonsense")));
        Assert.Equal("task \"boolqq\" is an unknown task (valid: arc-e, arc-c, boolq, obqa, piqa, siqa, hellaswag, winogrande)", unknown.Message);
        var unsupported = Assert.Throws<MixLoraException>(() => EvaluationTasks.ResolveFile("csqa", RepoPaths.Asset("commonsense")));
        Assert.StartsWith("task \"csqa\" is a reference task this library does not evaluate", unsupported.Message);
    }
}
