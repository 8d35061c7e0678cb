using System.Text.Json;
using MixLora.Adapters;
using MixLora.Evaluation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Evaluation;

/// <summary>
/// A user's own task file scored on stories260K by the fused evaluator, checked against expectations computed one
/// sequence at a time (<see cref="EvaluatorFixture.LogLikelihoods"/>, <see cref="EvaluatorFixture.Greedy"/>).
/// </summary>
public sealed class CustomTaskEvaluationTests : IClassFixture<EvaluatorFixture>
{
    private readonly EvaluatorFixture _f;

    public CustomTaskEvaluationTests(EvaluatorFixture fixture) => _f = fixture;

    private IReadOnlyList<EvaluationTarget> Targets =>
        [new("base", null), new("mixlora", _f.MixLora), new("lora", _f.Lora)];

    /// <summary>Options of different counts and token lengths, one list per <see cref="EvaluatorFixture.Prompts"/> entry.</summary>
    private static readonly string[][] Options =
    [
        [" went to the park", " was happy", " had a dog"],
        [" played", " ate the cake"],
        [" he went to school", " the sun was hot", " Lily smiled", " they played"],
        [" was shining", " is blue"],
        [" no", " yes, you can play", " hello"],
    ];

    private static EvaluationTaskData LoadFile(TempDir dir, IEnumerable<object> records)
    {
        var file = dir.File("own.jsonl");
        File.WriteAllLines(file, records.Select(r => JsonSerializer.Serialize(r)));
        return EvaluationTasks.LoadCustom(file);
    }

    private int Argmax(Adapter? adapter, int record)
    {
        var scores = _f.LogLikelihoods(adapter, EvaluatorFixture.Prompts[record], Options[record]).ToList();
        return scores.IndexOf(scores.Max());
    }

    [Fact]
    public void ChoiceScoresEachRecordsOwnOptionsByLikelihood()
    {
        // Records 0, 2 and 4 name the base model's most likely option, 1 and 3 another one: the base must score 3 of 5,
        // and each adapter as many as its own argmax agrees with those answers.
        var baseBest = Enumerable.Range(0, Options.Length).Select(i => Argmax(null, i)).ToArray();
        var answers = baseBest.Select((best, i) => i % 2 == 0 ? best : (best + 1) % Options[i].Length).ToArray();
        using var dir = new TempDir();
        var task = LoadFile(dir, EvaluatorFixture.Prompts.Select((p, i) => (object)new { prompt = p, options = Options[i], answer = answers[i] }));
        Assert.Equal(CustomTaskMetric.Choice, task.Metric);

        var report = CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer, Targets, [task], new EvaluationOptions { BatchSize = 2 });

        Assert.Equal(3, report.Find("base", "own")!.Correct);
        foreach (var target in Targets)
        {
            var result = report.Find(target.Name, "own")!;
            int expected = Enumerable.Range(0, Options.Length).Count(i => Argmax(target.Adapter, i) == answers[i]);
            Assert.Equal(expected, result.Correct);
            Assert.Equal(5, result.Total);
            Assert.Equal(0, result.Unanswered);
            Assert.Equal("choice-sequence", result.Protocol);
        }
        Assert.Empty(report.Warnings);
    }

    [Fact]
    public void ExactCountsTheGreedyAnswersEqualToTheOutput()
    {
        const int maxNew = 10;
        var tokenizer = _f.Model.Tokenizer;
        string FirstLine(Adapter? adapter, string prompt) => _f.Greedy(adapter, tokenizer.Encode(prompt), maxNew).TrimStart().Split('\n')[0].Trim();
        var own = EvaluatorFixture.Prompts.Select(p => FirstLine(null, p)).ToArray();
        Assert.All(own, line => Assert.NotEqual("", line));
        Assert.All(own, line => Assert.NotEqual(line, line.ToUpperInvariant()));
        // The base model's own answers, padded with whitespace (ignored), upper-cased (case counts) or extended: 3 of 5 right.
        string[] outputs = [own[0], "  " + own[1] + " \n", own[2].ToUpperInvariant(), own[3] + " more", own[4]];
        using var dir = new TempDir();
        var task = LoadFile(dir, EvaluatorFixture.Prompts.Select((p, i) => (object)new { prompt = p, output = outputs[i] }));
        Assert.Equal(CustomTaskMetric.Exact, task.Metric);

        var report = CommonsenseEvaluator.Run(_f.Model.Model, tokenizer, Targets, [task],
            new EvaluationOptions { BatchSize = 3, MaxNewTokens = maxNew }, _f.Model.StopIds);

        var baseResult = report.Find("base", "own")!;
        Assert.Equal(3, baseResult.Correct);
        Assert.Equal(0.6, baseResult.Accuracy, 10);
        foreach (var target in Targets)
        {
            var result = report.Find(target.Name, "own")!;
            int expected = EvaluatorFixture.Prompts.Select((p, i) => FirstLine(target.Adapter, p) == outputs[i].Trim()).Count(right => right);
            Assert.Equal(expected, result.Correct);
            Assert.Equal(0, result.Unanswered);
            Assert.Equal("exact", result.Protocol);
        }
    }
}
