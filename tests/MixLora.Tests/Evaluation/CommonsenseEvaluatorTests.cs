using System.Text.Json;
using MixLora.Adapters;
using MixLora.Evaluation;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Evaluation;

public sealed class CommonsenseEvaluatorTests : IClassFixture<EvaluatorFixture>
{
    private static readonly string[] CandidateTexts = [" the", " he", " she", " and"];
    private readonly EvaluatorFixture _f;

    public CommonsenseEvaluatorTests(EvaluatorFixture fixture) => _f = fixture;

    private IReadOnlyList<EvaluationTarget> Targets =>
        [new("base", null), new("mixlora", _f.MixLora), new("lora", _f.Lora)];

    private Adapter? AdapterOf(string target) => Targets.Single(t => t.Name == target).Adapter;

    /// <summary>A task whose labels are what <paramref name="labels"/> says for each prompt.</summary>
    private static EvaluationTaskData Task(string key, IReadOnlyList<int> labels) => new(
        key, "(in memory)", TaskRecordShape.Original, ["the", "he", "she", "and"], CandidateTexts,
        EvaluatorFixture.Prompts.Select((p, i) => new EvaluationExample(i, p, p, labels[i])).ToList(), []);

    /// <summary>The candidate with the highest next-token logit, one prompt at a time, with only that target's adapter attached.</summary>
    private int[] AlonePredictions(string target)
    {
        var tokenizer = _f.Model.Tokenizer;
        var candidates = CandidateTexts.Select(t => (long)tokenizer.Encode(t)[^1]).ToArray();
        return _f.WithOnly(AdapterOf(target), () =>
        {
            using var noGrad = no_grad();
            return EvaluatorFixture.Prompts.Select(prompt =>
            {
                using var scope = NewDisposeScope();
                var ids = tensor(tokenizer.Encode(prompt).Select(i => (long)i).ToArray()).unsqueeze(0);  // [1, T]
                using var output = _f.Model.Model.Forward(ids);
                return (int)output.Logits[0, -1].index_select(0, tensor(candidates)).argmax().item<long>();
            }).ToArray();
        });
    }

    [Fact]
    public void FusedTargetsPredictWhatEachPredictsAlone()
    {
        // One task per target, labelled with that target's own single-prompt predictions: in the fused, padded batch
        // each target must score 100 % on its own task.
        var tasks = Targets.Select(t => Task(t.Name, AlonePredictions(t.Name))).ToList();
        Assert.NotEqual(tasks[0].Examples.Select(e => e.Label), tasks[2].Examples.Select(e => e.Label)); // the LoRA really changes answers

        var report = CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer, Targets, tasks, new EvaluationOptions { BatchSize = 3 });

        foreach (var target in Targets)
        {
            var own = report.Find(target.Name, target.Name)!;
            Assert.Equal(EvaluatorFixture.Prompts.Length, own.Total);
            Assert.Equal(own.Total, own.Correct);
        }
        Assert.Equal(9, report.Results.Count);
    }

    [Fact]
    public void SequenceScoringGivesTheLastTokenAnswersWhenCandidatesAreSingleTokens()
    {
        var tasks = Targets.Select(t => Task(t.Name, AlonePredictions(t.Name))).ToList();
        var report = CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer, Targets, tasks,
            new EvaluationOptions { BatchSize = 2, ChoiceScoring = ChoiceScoring.Sequence });
        foreach (var target in Targets)
        {
            var own = report.Find(target.Name, target.Name)!;
            Assert.Equal("choice-sequence", own.Protocol);
            Assert.Equal(own.Total, own.Correct);
        }
    }

    [Fact]
    public void SequenceScoringPicksTheMostLikelyMultiTokenCandidate()
    {
        var tokenizer = _f.Model.Tokenizer;
        string[] texts = [" little girl", " big dog", " happy", " went to the park"];
        int[] Expected(Adapter? adapter) => EvaluatorFixture.Prompts.Select(prompt =>
        {
            var scores = _f.LogLikelihoods(adapter, prompt, texts).ToList();
            return scores.IndexOf(scores.Max());
        }).ToArray();
        var tasks = Targets.Select(t => new EvaluationTaskData(t.Name, "(in memory)", TaskRecordShape.Original, ["a", "b", "c", "d"], texts,
            EvaluatorFixture.Prompts.Select((p, i) => new EvaluationExample(i, p, p, Expected(t.Adapter)[i])).ToList(), [])).ToList();

        var report = CommonsenseEvaluator.Run(_f.Model.Model, tokenizer, Targets, tasks,
            new EvaluationOptions { BatchSize = 3, ChoiceScoring = ChoiceScoring.Sequence });

        foreach (var target in Targets) Assert.Equal(EvaluatorFixture.Prompts.Length, report.Find(target.Name, target.Name)!.Correct);
        Assert.Empty(report.Warnings);
    }

    [Fact]
    public void BatchedGreedyGenerationEqualsOneSequenceAtATime()
    {
        var tokenizer = _f.Model.Tokenizer;
        var prompts = EvaluatorFixture.Prompts.Select(p => tokenizer.Encode(p)).ToList();
        var owners = Targets.Select(t => (object?)t.Adapter ?? new object()).ToList();
        var stop = _f.Model.StopIds;
        string[] batched;
        using (no_grad()) batched = GreedyAnswerer.Generate(_f.Model.Model, tokenizer, prompts, owners, (_, _) => false, 12, stop, tokenizer.PadId ?? 0); // rows stop only at EOS or the budget

        for (int t = 0; t < Targets.Count; t++)
        {
            var expected = prompts.Select(p => _f.Greedy(Targets[t].Adapter, p, 12)).ToArray();
            Assert.Equal(expected, batched.Skip(t * prompts.Count).Take(prompts.Count).ToArray());
        }
        Assert.Contains(batched, text => text.Length > 0);
    }

    [Fact]
    public void GenerateProtocolScoresTheFirstCandidateWordOfTheOutput()
    {
        var tokenizer = _f.Model.Tokenizer;
        // Candidates are the first word each prompt's base continuation produces, so the base model must be right on all.
        var outputs = EvaluatorFixture.Prompts.Select(p => _f.Greedy(null, tokenizer.Encode(p), 16)).ToList();
        var firstWords = outputs.Select(o => o.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0].Trim('.', ',', '!', '"')).ToList();
        var candidates = firstWords.Distinct().ToList();
        var task = new EvaluationTaskData("words", "(in memory)", TaskRecordShape.Original, candidates, candidates.Select(c => " " + c).ToList(),
            EvaluatorFixture.Prompts.Select((p, i) => new EvaluationExample(i, p, p, candidates.IndexOf(firstWords[i]))).ToList(), []);

        var report = CommonsenseEvaluator.Run(_f.Model.Model, tokenizer, [new EvaluationTarget("base", null)], [task],
            new EvaluationOptions { Protocol = EvaluationProtocol.Generate, BatchSize = 2, MaxNewTokens = 16 }, _f.Model.StopIds);

        var result = Assert.Single(report.Results);
        Assert.Equal("generate", result.Protocol);
        Assert.Equal(EvaluatorFixture.Prompts.Length, result.Correct);
    }

    [Fact]
    public void RouterProfileIsPerLayerSelectionsPerTokenAndIsWrittenWithTheResults()
    {
        var task = Task("t", [0, 1, 2, 3, 0]);
        var report = CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer, Targets, [task], new EvaluationOptions { BatchSize = 2, Limit = 4 });

        var mix = report.Find("mixlora", "t")!;
        Assert.Equal(4, mix.Total);
        Assert.Equal(_f.Model.Config.NumHiddenLayers, mix.RouterLoad!.Length);
        foreach (var layer in mix.RouterLoad) Assert.Equal(2.0, layer.Sum(), 6); // top-2: two selections per token
        Assert.Equal(2.0, mix.RouterProfile!.Sum(), 6);                           // a layer mean, not a sum over layers / 32
        Assert.Null(report.Find("base", "t")!.RouterLoad);
        Assert.Null(report.Find("lora", "t")!.RouterLoad);

        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "results.json");
        EvaluationResultsFile.Write(path, report);
        var plots = RouterProfilePlots.Save(path, report);
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(3, entries.Count);
        var mixJson = entries.Single(e => e.GetProperty("adapter_name").GetString() == "mixlora");
        Assert.Equal("t", mixJson.GetProperty("task_name").GetString());
        Assert.Equal(mix.Accuracy, mixJson.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(4, mixJson.GetProperty("router_profile").GetArrayLength());
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", mixJson.GetProperty("date_time").GetString()!);
        Assert.False(entries.Single(e => e.GetProperty("adapter_name").GetString() == "base").TryGetProperty("router_profile", out _));
        var plot = Assert.Single(plots);
        Assert.EndsWith("results.router-mixlora.png", plot);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(plot).Take(4).ToArray());
    }

    [Fact]
    public void EvaluatingPutsBackTheAdaptersTrainingModeAndStatistics()
    {
        var sink = _f.MixLora.CollectRouterStatistics();
        _f.MixLora.SetTraining(true);
        try
        {
            CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer, Targets, [Task("t", [0, 1, 2, 3, 0])], new EvaluationOptions { Limit = 2 });
            Assert.True(_f.MixLora.IsTraining);
            Assert.True(_f.Model.Model.training);
            Assert.Same(sink, _f.MixLora.RouterStatisticsSink);
            Assert.All(sink.Snapshot().Tokens, t => Assert.Equal(0, t));   // the evaluation recorded into its own statistics
            Assert.False(_f.Lora.IsTraining);
        }
        finally
        {
            _f.MixLora.SetTraining(false);
            _f.MixLora.RecordRouterStatisticsInto(null);
        }
    }

    [Fact]
    public void CandidatesSharingALastTokenAreRejectedForTheChoiceProtocol()
    {
        var task = new EvaluationTaskData("clash", "(in memory)", TaskRecordShape.Original, ["x", "y"], [" the", " the"],
            [new EvaluationExample(0, "The", "The", 0)], []);
        var e = Assert.Throws<MixLoraException>(() => CommonsenseEvaluator.Run(_f.Model.Model, _f.Model.Tokenizer,
            [new EvaluationTarget("base", null)], [task], new EvaluationOptions()));
        Assert.Contains("\"x\" and \"y\"", e.Message);
    }
}
