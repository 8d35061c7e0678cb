namespace MixLora.Data;

/// <summary>
/// One training text: <see cref="Full"/> is what the model is trained on; <see cref="Prompt"/> is its leading part
/// up to the response (the part left out of the loss when <c>train_on_inputs</c> is false).
/// </summary>
public sealed record TrainingText(string Prompt, string Full)
{
    /// <summary>The response part: <see cref="Full"/> after <see cref="Prompt"/>.</summary>
    public string Response => Full.StartsWith(Prompt, StringComparison.Ordinal) ? Full[Prompt.Length..] : Full;
}
