namespace MixLora.Evaluation;

/// <summary>Settings of an evaluation run.</summary>
public sealed record EvaluationOptions
{
    public EvaluationProtocol Protocol { get; init; } = EvaluationProtocol.Choice;

    /// <summary>Choice protocol: the reference's last-token rule (default) or whole-candidate log-likelihood.</summary>
    public ChoiceScoring ChoiceScoring { get; init; } = ChoiceScoring.LastToken;

    /// <summary>The protocol's name in the results of commonsense tasks: "choice", "choice-sequence" or "generate" (custom tasks: their metric's).</summary>
    public string ProtocolName => TaskScorings.For(null, this).Name();

    /// <summary>Examples per target in one fused batch (a batch holds this many rows per target).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Evaluate only the first N examples of each task (null = all).</summary>
    public int? Limit { get; init; }

    /// <summary>Longest prompt in tokens (null = the model's context); longer prompts lose their beginning, never the answer cue.</summary>
    public int? CutoffLen { get; init; }

    /// <summary>Generate protocol: most new tokens per example.</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>Called after every batch with (task key, examples done, examples in the task).</summary>
    public Action<string, int, int>? Progress { get; init; }

    public void Validate()
    {
        if (BatchSize < 1) throw new MixLoraException($"batch size must be at least 1, got {BatchSize}");
        if (Limit is < 1) throw new MixLoraException($"limit must be at least 1, got {Limit}");
        if (CutoffLen is < 2) throw new MixLoraException($"cutoff length must be at least 2, got {CutoffLen}");
        if (MaxNewTokens < 1) throw new MixLoraException($"max new tokens must be at least 1, got {MaxNewTokens}");
    }
}
