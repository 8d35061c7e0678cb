using System.Text.Json;
using System.Text.Json.Serialization;
using MixLora.Evaluation;
using MixLora.Tests.Support;
using Parquet.Serialization;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>
/// The same original records as .jsonl and as .parquet (written like the Hub's files: ARC's <c>choices</c> is a
/// struct of two string lists, HellaSwag's <c>endings</c> a string list, labels as the Hub types them) read alike.
/// </summary>
public class ParquetRecordTests
{
    private sealed class ArcChoices
    {
        [JsonPropertyName("text")] public List<string> Text { get; set; } = [];
        [JsonPropertyName("label")] public List<string> Label { get; set; } = [];
    }

    private sealed class ArcRow
    {
        [JsonPropertyName("id")] public string? Id { get; set; }
        [JsonPropertyName("question")] public string? Question { get; set; }
        [JsonPropertyName("choices")] public ArcChoices? Choices { get; set; }
        [JsonPropertyName("answerKey")] public string? AnswerKey { get; set; }
    }

    private sealed class HellaSwagRow
    {
        [JsonPropertyName("ind")] public long Ind { get; set; }
        [JsonPropertyName("activity_label")] public string? ActivityLabel { get; set; }
        [JsonPropertyName("ctx")] public string? Ctx { get; set; }
        [JsonPropertyName("endings")] public List<string> Endings { get; set; } = [];
        [JsonPropertyName("label")] public string? Label { get; set; }
    }

    private sealed class BoolQRow
    {
        [JsonPropertyName("question")] public string? Question { get; set; }
        [JsonPropertyName("answer")] public bool Answer { get; set; }
        [JsonPropertyName("passage")] public string? Passage { get; set; }
    }

    private sealed class PiqaRow
    {
        [JsonPropertyName("goal")] public string? Goal { get; set; }
        [JsonPropertyName("sol1")] public string? Sol1 { get; set; }
        [JsonPropertyName("sol2")] public string? Sol2 { get; set; }
        [JsonPropertyName("label")] public long Label { get; set; }
    }

    private static readonly List<ArcRow> ArcRows =
    [
        new() { Id = "a1", Question = "Which is a gas?", Choices = new() { Text = ["ice", "steam", "wood"], Label = ["A", "B", "C"] }, AnswerKey = "B" },
        new() { Id = "a2", Question = "Pick one \"quoted\" ünïcode", Choices = new() { Text = ["x", "y", "z", "w"], Label = ["1", "2", "3", "4"] }, AnswerKey = "4" },
        new() { Id = "a3", Question = "Broken", Choices = new() { Text = ["x", "y"], Label = ["A", "B"] }, AnswerKey = "F" },
    ];

    private static readonly List<HellaSwagRow> HellaSwagRows =
    [
        new() { Ind = 4, ActivityLabel = "Removing ice from car", Ctx = "Then, the man writes over the snow. he", Endings = ["a", "b", "c", "d"], Label = "2" },
        new() { Ind = 5, ActivityLabel = "Unlabelled", Ctx = "test split", Endings = ["a", "b", "c", "d"], Label = "" },
        new() { Ind = 6, ActivityLabel = "Baking", Ctx = "She", Endings = ["e1", "e2", "e3", "e4"], Label = "0" },
    ];

    private static readonly List<BoolQRow> BoolQRows =
    [
        new() { Question = "is the sky blue", Answer = true, Passage = "p" },
        new() { Question = "is fire cold", Answer = false, Passage = "p" },
    ];

    private static readonly List<PiqaRow> PiqaRows =
    [
        new() { Goal = "open a jar", Sol1 = "twist", Sol2 = "push", Label = 0 },
        new() { Goal = "dry hair", Sol1 = "wet it", Sol2 = "towel", Label = 1 },
    ];

    /// <summary>Writes the rows of a task as .jsonl and .parquet; returns the record count.</summary>
    private static async Task<int> WriteBoth(string task, string jsonl, string parquet)
    {
        return task switch
        {
            "arc-c" => await Write(ArcRows),
            "hellaswag" => await Write(HellaSwagRows),
            "boolq" => await Write(BoolQRows),
            "piqa" => await Write(PiqaRows),
            _ => throw new ArgumentException(task),
        };

        async Task<int> Write<T>(List<T> rows)
        {
            File.WriteAllLines(jsonl, rows.Select(r => JsonSerializer.Serialize(r)));
            await using var stream = File.Create(parquet);
            await ParquetSerializer.SerializeAsync(rows, stream);
            return rows.Count;
        }
    }

    [Theory]
    [InlineData("arc-c")]
    [InlineData("hellaswag")]
    [InlineData("boolq")]
    [InlineData("piqa")]
    public async Task JsonLinesAndParquetGiveTheSameData(string task)
    {
        using var dir = new TempDir();
        var (jsonl, parquet) = (dir.File("d.jsonl"), dir.File("d.parquet"));
        int count = await WriteBoth(task, jsonl, parquet);

        var fromJson = EvaluationTasks.Load(task, jsonl);
        var fromParquet = EvaluationTasks.Load(task, parquet);
        Assert.Equal(TaskRecordShape.Original, fromParquet.Shape);
        Assert.NotEmpty(fromParquet.Examples);
        Assert.Equal(fromJson.Examples, fromParquet.Examples);
        Assert.Equal(fromJson.Candidates, fromParquet.Candidates);
        Assert.Equal(fromJson.CandidateTokenTexts, fromParquet.CandidateTokenTexts);
        Assert.Equal(fromJson.Skipped.Select(s => (s.Index, s.Reason)), fromParquet.Skipped.Select(s => (s.Index, s.Reason)));
        Assert.Equal(count, fromParquet.Examples.Count + fromParquet.Skipped.Count);
    }

    [Fact]
    public async Task ParquetRowsGiveTheReferencePrompts()
    {
        using var dir = new TempDir();
        var (jsonl, parquet) = (dir.File("d.jsonl"), dir.File("validation-00000-of-00001.parquet"));
        await WriteBoth("hellaswag", jsonl, parquet);
        var data = EvaluationTasks.Load("hellaswag", parquet);
        Assert.Equal("Please choose the correct ending to complete the given sentence.\nSentence: Removing ice from car. Then, the man writes over the snow. he\n(A) a\n(B) b\n(C) c\n(D) d\nAnswer:",
            data.Examples[0].ChoicePrompt);
        Assert.Equal([2, 0], data.Examples.Select(e => e.Label));
        Assert.Equal([0, 2], data.Examples.Select(e => e.Index));
        var skipped = Assert.Single(data.Skipped);
        Assert.Equal(1, skipped.Index);
        Assert.StartsWith("field \"label\": is an empty string", skipped.Reason);

        await WriteBoth("arc-c", jsonl, parquet);
        var arc = EvaluationTasks.Load("arc-c", parquet);
        Assert.Equal("Please choose the correct answer to the question: Pick one \"quoted\" ünïcode (1) x (2) y (3) z (4) w\nAnswer:", arc.Examples[1].ChoicePrompt);
        Assert.Equal([5, 3], arc.Examples.Select(e => e.Label));
        Assert.Equal("field \"answerKey\": \"F\" is not a candidate (1, 2, 3, 4, A, B, C, D, E)", Assert.Single(arc.Skipped).Reason);
    }

    [Fact]
    public void AFileThatIsNotParquetIsReported()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("x.parquet"), "not parquet at all");
        var e = Assert.Throws<InvalidFileException>(() => EvaluationTasks.Load("piqa", dir.File("x.parquet")));
        Assert.Equal(dir.File("x.parquet"), e.FilePath);
        Assert.Contains("not a readable Parquet file", e.Message);
    }
}
