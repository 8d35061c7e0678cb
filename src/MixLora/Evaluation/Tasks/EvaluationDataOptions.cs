using MixLora.Data;

namespace MixLora.Evaluation;

/// <summary>How <see cref="EvaluationTasks.Load"/> reads a task file.</summary>
public sealed record EvaluationDataOptions
{
    /// <summary>Defaults: the moe_peft template, malformed records skipped.</summary>
    public static EvaluationDataOptions Default { get; } = new();

    /// <summary>Template that renders LLM-Adapters records (instruction, input); unused for original records.</summary>
    public PromptTemplate Template { get; init; } = PromptTemplate.MoePeft;

    /// <summary>
    /// True: the first malformed record fails the load (<see cref="InvalidFileException"/> naming file, record and
    /// field). False: malformed records are listed in <see cref="EvaluationTaskData.Skipped"/> and left out.
    /// </summary>
    public bool Strict { get; init; }
}
