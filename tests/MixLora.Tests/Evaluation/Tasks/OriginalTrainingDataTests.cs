using System.Text.Json.Serialization;
using MixLora.Config;
using MixLora.Data;
using MixLora.Tests.Support;
using Parquet.Serialization;

namespace MixLora.Tests.Evaluation.Tasks;

/// <summary>Training a task key from original records: text = reference prompt + train suffix, no template.</summary>
public class OriginalTrainingDataTests
{
    private static AdapterTrainingConfig Adapter(string taskName, string data, string? prompt = null) =>
        new() { Name = "a", TaskName = taskName, Data = data, Prompt = prompt, Lr = 1e-3, BatchSize = 4, NumEpochs = 1, EvaluateBatchSize = 4 };

    private const string PiqaPrompt =
        "Below is a common task along with two possible solutions labeled (A) and (B). Please select the appropriate solution to achieve the task:\n" +
        "dry hair\n\n(A) wet it\n(B) towel\n\nCorrect solution:";

    private sealed class PiqaRow
    {
        [JsonPropertyName("goal")] public string? Goal { get; set; }
        [JsonPropertyName("sol1")] public string? Sol1 { get; set; }
        [JsonPropertyName("sol2")] public string? Sol2 { get; set; }
        [JsonPropertyName("label")] public long Label { get; set; }
    }

    [Fact]
    public async Task AParquetTrainSplitGivesPromptPlusSuffix()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("piqa"));
        await using (var stream = File.Create(dir.File("piqa/train-00000-of-00001.parquet")))
            await ParquetSerializer.SerializeAsync(new List<PiqaRow> { new() { Goal = "dry hair", Sol1 = "wet it", Sol2 = "towel", Label = 1 } }, stream);

        foreach (var data in new[] { ".", "piqa/train-00000-of-00001.parquet" }) // a folder is searched; a file is used as is
        {
            var text = Assert.Single(TrainingData.Load(Adapter("piqa", data, "alpaca"), dir.Path)); // the template is not used
            Assert.Equal(PiqaPrompt, text.Prompt);
            Assert.Equal(PiqaPrompt + " B", text.Full);
            Assert.Equal(" B", text.Response);
        }
    }

    [Fact]
    public void OriginalJsonAndLlmAdaptersFilesMixInMultiTaskTraining()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("winogrande"));
        File.WriteAllText(dir.File("winogrande/train.jsonl"), """
            {"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.", "option1": "Sarah", "option2": "Maria", "answer": "2"}
            {"sentence": "He put _ in the box.", "option1": "it", "option2": "them", "answer": "1"}
            """);
        File.Copy(RepoPaths.Asset("commonsense", "boolq", "train.json"), dir.File("boolq.json"));

        var texts = TrainingData.Load(Adapter("winogrande;boolq", "winogrande;boolq.json"), dir.Path);
        Assert.Equal(22, texts.Count);
        Assert.Equal("Please choose the correct answer to fill in the blank to complete the given sentence.\nSentence: " +
                     "Sarah was a much better surgeon than Maria so _ always got the easier cases.\n(A) Sarah\n(B) Maria\nAnswer: B", texts[0].Full);
        Assert.EndsWith("\n(A) it\n(B) them\nAnswer: A", texts[1].Full);
        Assert.StartsWith("Below is an instruction that describes a task.", texts[2].Full); // LLM-Adapters keeps the alpaca default
        Assert.EndsWith("### Response:\nthe correct answer is true\n", texts[2].Full);
    }

    [Fact]
    public void AMalformedTrainingRecordFailsNamingIt()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("siqa.json"), """
            [{"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "label": "2"},
             {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "label": "4"}]
            """);
        var e = Assert.Throws<InvalidFileException>(() => TrainingData.Load(Adapter("siqa", "siqa.json"), dir.Path));
        Assert.Equal(dir.File("siqa.json") + ": record 1: field \"label\": label 4 (1-based) is outside the 3 candidates (A, B, C)", e.Message);
    }

    [Fact]
    public void AFolderWithoutTrainDataListsBothLayouts()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<MixLoraException>(() => TrainingData.ResolveSources(Adapter("hellaswag", "."), dir.Path));
        Assert.Contains("has neither train.json nor hellaswag/train.json (LLM-Adapters) nor original records (train.jsonl, train.parquet, train-00000-of-00001.parquet, hellaswag/train.json, " +
                        "hellaswag/train.jsonl, hellaswag/train.parquet, hellaswag/train-00000-of-00001.parquet)", e.Message);
    }
}
