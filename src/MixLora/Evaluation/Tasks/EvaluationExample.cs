namespace MixLora.Evaluation;

/// <summary>One evaluation item of a task.</summary>
/// <param name="Index">Position of the record in its source file (0-based), for error messages and results.</param>
/// <param name="ChoicePrompt">Text that ends at the answer cue; the next token decides the answer (choice protocol).</param>
/// <param name="GenerationPrompt">Text a model continues greedily to produce an answer (generate protocol, exact metric).</param>
/// <param name="Label">
/// Index of the correct answer in <see cref="EvaluationTaskData.Candidates"/>, or in <see cref="Options"/> when the item
/// has its own; −1 for an exact-match item, which has a <see cref="Reference"/> instead.
/// </param>
public sealed record EvaluationExample(int Index, string ChoicePrompt, string GenerationPrompt, int Label)
{
    /// <summary>
    /// A custom choice item's own options: the texts appended to the prompt and scored (null: the task's
    /// <see cref="EvaluationTaskData.CandidateTokenTexts"/>).
    /// </summary>
    public IReadOnlyList<string>? Options { get; init; }

    /// <summary>A custom exact-match item's gold output (null for multiple-choice items).</summary>
    public string? Reference { get; init; }

    /// <summary>A multiple-choice item with its own options; <paramref name="label"/> indexes them.</summary>
    public static EvaluationExample Choice(int index, string prompt, IReadOnlyList<string> options, int label) =>
        new(index, prompt, prompt, label) { Options = options };

    /// <summary>An item scored by exact match of the greedy answer with <paramref name="reference"/>.</summary>
    public static EvaluationExample Exact(int index, string prompt, string reference) =>
        new(index, prompt, prompt, -1) { Reference = reference };
}
