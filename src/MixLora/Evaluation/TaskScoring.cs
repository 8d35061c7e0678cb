namespace MixLora.Evaluation;

/// <summary>How the evaluator scores the items of one task: the run's protocol for a commonsense task, a custom task's own metric otherwise.</summary>
internal enum TaskScoring
{
    /// <summary>The reference's choice rule (<see cref="ChoiceScorer"/>).</summary>
    LastToken,

    /// <summary>Whole-candidate log-likelihood (<see cref="SequenceScorer"/>).</summary>
    Sequence,

    /// <summary>Greedy generation, first candidate word (<see cref="AnswerMatcher"/>).</summary>
    Generate,

    /// <summary>Greedy generation, the answer equal to the gold output (<see cref="ExactAnswer"/>).</summary>
    Exact,
}

internal static class TaskScorings
{
    public static TaskScoring For(CustomTaskMetric? metric, EvaluationOptions options) => metric switch
    {
        CustomTaskMetric.Exact => TaskScoring.Exact,
        CustomTaskMetric.Choice => TaskScoring.Sequence,
        _ when options.Protocol == EvaluationProtocol.Generate => TaskScoring.Generate,
        _ => options.ChoiceScoring == ChoiceScoring.Sequence ? TaskScoring.Sequence : TaskScoring.LastToken,
    };

    /// <summary>The name written as a result's protocol.</summary>
    public static string Name(this TaskScoring scoring) => scoring switch
    {
        TaskScoring.LastToken => "choice",
        TaskScoring.Sequence => "choice-sequence",
        TaskScoring.Generate => "generate",
        _ => "exact",
    };

    /// <summary>Whether the items are answered by greedy generation (which needs room for new tokens in the context).</summary>
    public static bool Generates(this TaskScoring scoring) => scoring is TaskScoring.Generate or TaskScoring.Exact;
}
