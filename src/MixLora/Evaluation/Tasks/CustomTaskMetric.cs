namespace MixLora.Evaluation;

/// <summary>How the items of a user's own task file (<see cref="EvaluationTasks.LoadCustom"/>) are scored.</summary>
public enum CustomTaskMetric
{
    /// <summary>Greedy generation; correct when the answer read from it (<see cref="ExactAnswer"/>) equals the record's output.</summary>
    Exact,

    /// <summary>Each option scored by the log-likelihood of its tokens after the prompt (<see cref="ChoiceScoring.Sequence"/>), argmax.</summary>
    Choice,
}

/// <summary>Parses <see cref="CustomTaskMetric"/> names given on the command line.</summary>
public static class CustomTaskMetrics
{
    /// <exception cref="MixLoraException">Neither "exact" nor "choice".</exception>
    public static CustomTaskMetric Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "exact" => CustomTaskMetric.Exact,
        "choice" => CustomTaskMetric.Choice,
        _ => throw new MixLoraException($"unknown metric \"{name}\" (valid: exact, choice)"),
    };
}
