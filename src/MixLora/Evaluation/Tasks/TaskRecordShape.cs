namespace MixLora.Evaluation;

/// <summary>The record layouts a task file may have.</summary>
public enum TaskRecordShape
{
    /// <summary>LLM-Adapters JSON: <c>instruction</c>, <c>input</c>, <c>output</c>, <c>answer</c> (what we ship).</summary>
    LlmAdapters,

    /// <summary>The original dataset records the reference reads from the Hub (ARC: question/choices/answerKey, ...).</summary>
    Original,

    /// <summary>A user's own task (<see cref="EvaluationTasks.LoadCustom"/>): a prompt, an output and, for the choice metric, options.</summary>
    Custom,
}
