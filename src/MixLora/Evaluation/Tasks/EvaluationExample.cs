namespace MixLora.Evaluation;

/// <summary>One multiple-choice evaluation item of a task.</summary>
/// <param name="Index">Position of the record in its source file (0-based), for error messages and results.</param>
/// <param name="ChoicePrompt">Text that ends at the answer cue; the next token decides the answer (choice protocol).</param>
/// <param name="GenerationPrompt">Text a model continues greedily to produce an answer (generate protocol).</param>
/// <param name="Label">Index of the correct answer in <see cref="EvaluationTaskData.Candidates"/>.</param>
public sealed record EvaluationExample(int Index, string ChoicePrompt, string GenerationPrompt, int Label);
