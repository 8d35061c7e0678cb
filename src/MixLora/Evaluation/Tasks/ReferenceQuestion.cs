using MixLora.Data;

namespace MixLora.Evaluation;

/// <summary>
/// One original dataset record in the reference's task format (spec §8.2).
/// </summary>
/// <param name="Prompt">The evaluation prompt, ending right after the answer cue ("\nAnswer:", "\n\nCorrect solution:").</param>
/// <param name="Label">Index of the correct answer in the task's candidate labels.</param>
/// <param name="Answer">The correct candidate label ("A", "true", ...).</param>
public sealed record ReferenceQuestion(string Prompt, int Label, string Answer)
{
    /// <summary>The reference's training text: the prompt followed by the train suffix <c>" " + answer</c>.</summary>
    public string TrainingText => Prompt + " " + Answer;

    /// <summary>
    /// As a training text. The reference trains on the whole text; <see cref="Data.TrainingText.Prompt"/> is still
    /// the question so that <c>train_on_inputs: false</c> leaves only the answer in the loss.
    /// </summary>
    public TrainingText ToTrainingText() => new(Prompt, TrainingText);
}
