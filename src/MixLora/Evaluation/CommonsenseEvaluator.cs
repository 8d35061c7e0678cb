using System.Diagnostics;
using System.Globalization;
using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tokenization;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>
/// Scores targets (the base model and/or adapters attached to it) on the commonsense tasks and on users' own tasks
/// (<see cref="EvaluationTasks.LoadCustom"/>). Every batch holds the same examples once per target, fused on the batch
/// axis (each adapter applies only to its own rows), so one forward of the frozen base serves all targets (spec §8.4).
/// </summary>
public static class CommonsenseEvaluator
{
    /// <summary>Evaluates every target on every task.</summary>
    /// <param name="stopIds">Generate protocol: ids that end a generation (EOS).</param>
    public static EvaluationReport Run(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<EvaluationTarget> targets,
        IReadOnlyList<EvaluationTaskData> tasks, EvaluationOptions options, IReadOnlyCollection<int>? stopIds = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        if (targets.Count == 0) throw new MixLoraException("nothing to evaluate: no model or adapter was given");
        if (targets.Select(t => t.Name).Distinct().Count() != targets.Count)
            throw new MixLoraException($"target names must be unique, got {string.Join(", ", targets.Select(t => t.Name))}");
        foreach (var target in targets)
            if (target.Adapter is { IsAttached: false })
                throw new MixLoraException($"adapter \"{target.Name}\" is detached from the model; attach it before evaluating");

        // The base model's rows belong to an owner no adapter has, so they see no LoRA delta and the plain FFN.
        var owners = targets.Select(t => (object?)t.Adapter ?? new object()).ToList();
        // Modes and statistics sinks are put back afterwards, so evaluating in the middle of training changes nothing.
        var adapterStates = targets.Select(t => t.Adapter).OfType<Adapter>()
            .Select(a => (Adapter: a, a.IsTraining, a.RouterStatisticsSink)).ToList();
        var statistics = targets.Select(t => t.Adapter is { MoeBlocks.Count: > 0 } a ? a.CollectRouterStatistics() : null).ToList();
        bool wasTraining = model.training;
        model.eval();
        foreach (var t in targets) t.Adapter?.SetTraining(false);
        int padId = tokenizer.PaddingId();
        int cutoff = Math.Min(options.CutoffLen ?? int.MaxValue, model.Config.MaxPositionEmbeddings);
        var results = new List<TaskResult>();
        try
        {
            using var noGrad = no_grad();
            foreach (var task in tasks)
            {
                cancellation.ThrowIfCancellationRequested();
                results.AddRange(RunTask(model, tokenizer, targets, owners, statistics, task, options, padId, cutoff, stopIds ?? [], cancellation));
            }
        }
        finally
        {
            foreach (var (adapter, training, sink) in adapterStates)
            {
                adapter.RecordRouterStatisticsInto(sink);
                if (training) adapter.SetTraining(true);
            }
            if (wasTraining) model.train();
        }
        var warnings = tasks.Where(t => TaskScorings.For(t.Metric, options) == TaskScoring.LastToken)
            .Select(t => CandidateTokens.MultiTokenWarning(t, tokenizer)).OfType<string>().ToList();
        return new EvaluationReport(results, tasks.SelectMany(t => t.Skipped).ToList(), warnings);
    }

    private static List<TaskResult> RunTask(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<EvaluationTarget> targets,
        IReadOnlyList<object> owners, IReadOnlyList<RouterStatistics?> statistics, EvaluationTaskData task, EvaluationOptions options,
        int padId, int cutoff, IReadOnlyCollection<int> stopIds, CancellationToken cancellation)
    {
        var examples = options.Limit is int limit ? task.Examples.Take(limit).ToList() : task.Examples.ToList();
        var scoring = TaskScorings.For(task.Metric, options);
        var candidateIds = scoring == TaskScoring.LastToken ? CandidateTokens.LastIds(task, tokenizer) : null;
        var matcher = scoring == TaskScoring.Generate ? new AnswerMatcher(task.Candidates) : null;
        foreach (var s in statistics) s?.Reset();
        var correct = new int[targets.Count];
        var unanswered = new int[targets.Count];
        var clock = Stopwatch.StartNew();
        // Generation needs room for the new tokens inside the model's context.
        int promptBudget = scoring.Generates() ? Math.Max(2, cutoff - options.MaxNewTokens) : cutoff;
        // Batches of similar lengths waste less on padding; the longest come first, so the memory peak shows at once.
        var encoded = examples
            .Select(e => (Example: e, Ids: PromptTruncation.KeepEnd(
                tokenizer.Encode(scoring.Generates() ? e.GenerationPrompt : e.ChoicePrompt), promptBudget, tokenizer.BosId)))
            .OrderByDescending(p => p.Ids.Count)
            .ToList();
        for (int start = 0; start < encoded.Count; start += options.BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var part = encoded.Skip(start).Take(options.BatchSize).ToList();
            var chunk = part.Select(p => p.Example).ToList();
            var prompts = part.Select(p => p.Ids).ToList();
            // Per row (targets × chunk): true = right, false = wrong, null = no answer (counted wrong and as unanswered).
            bool? Labelled(int? prediction, int row) => prediction is int p ? p == chunk[row % chunk.Count].Label : null;
            var outcomes = scoring switch
            {
                TaskScoring.Exact => ExactOutcomes(model, tokenizer, prompts, owners, chunk, options.MaxNewTokens, stopIds, padId),
                TaskScoring.Generate => GreedyAnswerer.Generate(model, tokenizer, prompts, owners, (_, text) => matcher!.IsSettled(text), options.MaxNewTokens, stopIds, padId)
                    .Select((text, row) => Labelled(matcher!.Find(text), row)),
                TaskScoring.Sequence => SequenceScorer.Predict(model, tokenizer, chunk.Select(e => e.ChoicePrompt).ToList(), chunk.Select(task.CandidateTextsOf).ToList(), owners, padId, cutoff)
                    .Select((p, row) => Labelled(p, row)),
                _ => ChoiceScorer.Predict(model, prompts, owners, candidateIds!, padId).Select((p, row) => Labelled((int)p, row)),
            };
            int index = 0;
            foreach (var outcome in outcomes)
            {
                int target = index++ / chunk.Count;
                if (outcome is null) unanswered[target]++;
                else if (outcome.Value) correct[target]++;
            }
            options.Progress?.Invoke(task.TaskKey, start + chunk.Count, examples.Count);
        }
        double perSecond = examples.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        string now = DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        return targets.Select((t, i) => new TaskResult(t.Name, task.TaskKey, task.SourceFile, scoring.Name(), now,
            correct[i], examples.Count, unanswered[i], task.Skipped.Count, perSecond, RouterLoad(statistics[i]))).ToList();
    }

    /// <summary>Exact metric: greedy answers, each row stopping once it holds as many lines as its gold output.</summary>
    private static IEnumerable<bool?> ExactOutcomes(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<object> owners, IReadOnlyList<EvaluationExample> chunk, int maxNewTokens, IReadOnlyCollection<int> stopIds, int padId)
    {
        var lines = chunk.Select(e => ExactAnswer.LineCount(e.Reference!)).ToList();
        var texts = GreedyAnswerer.Generate(model, tokenizer, prompts, owners, (i, text) => ExactAnswer.IsComplete(text, lines[i]), maxNewTokens, stopIds, padId);
        return texts.Select((text, row) => ExactAnswer.Judge(text, chunk[row % chunk.Count].Reference!));
    }

    /// <summary>[layer][expert] selections per token, from the statistics recorded over the task.</summary>
    private static double[][]? RouterLoad(RouterStatistics? statistics)
    {
        if (statistics is null) return null;
        var snapshot = statistics.Snapshot();
        return snapshot.AssignmentCounts
            .Select((counts, layer) => counts.Select(c => snapshot.Tokens[layer] > 0 ? (double)c / snapshot.Tokens[layer] : 0).ToArray())
            .ToArray();
    }
}
