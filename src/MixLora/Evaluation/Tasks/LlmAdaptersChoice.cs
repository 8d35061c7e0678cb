namespace MixLora.Evaluation;

/// <summary>
/// Our next-token ("choice") protocol for LLM-Adapters records. The reference has none for this shape: LLM-Adapters
/// generates text and extracts the answer word. This class is our extension.
/// </summary>
/// <remarks>
/// The training output of a record is <c>"the correct answer is X"</c>, where X is one of the task's answer words
/// (answer1…answer5, true/false, solution1/2, option1/2, ending1…4). Let the <b>stem</b> be the longest common
/// prefix of those words ("answer", "solution", "option", "ending"; empty for true/false). Then:
/// <list type="bullet">
/// <item>choice prompt = generation prompt + <c>"the correct answer is"</c> + (stem empty ? "" : " " + stem), so the
/// model's next token decides the answer;</item>
/// <item>candidate token text of word X = the rest of X after the stem ("1", "2", …), or <c>" " + X</c> when the
/// stem is empty (" true", " false"). As in spec §8.4 the candidate id is the <b>last</b> id of encoding that
/// text with special tokens, which drops BOS and a lone word-start token.</item>
/// </list>
/// </remarks>
public static class LlmAdaptersChoice
{
    /// <summary>The words every LLM-Adapters output starts with before the answer word.</summary>
    public const string AnswerCue = "the correct answer is";

    /// <summary>Longest common prefix of the answer words ("answer" for answer1…answer5, "" for true/false).</summary>
    public static string Stem(IReadOnlyList<string> answers)
    {
        if (answers.Count == 0) return "";
        int length = answers[0].Length;
        foreach (var word in answers.Skip(1))
        {
            length = Math.Min(length, word.Length);
            for (int i = 0; i < length; i++)
            {
                if (word[i] != answers[0][i]) { length = i; break; }
            }
        }
        // A stem that swallows a whole word would leave that candidate with no token of its own.
        return answers.Any(w => w.Length == length) ? "" : answers[0][..length];
    }

    /// <summary>The text that ends right before the answer word's distinguishing token.</summary>
    public static string ChoicePrompt(string generationPrompt, IReadOnlyList<string> answers)
    {
        var stem = Stem(answers);
        return generationPrompt + AnswerCue + (stem.Length > 0 ? " " + stem : "");
    }

    /// <summary>For each answer word, the text whose last token stands for it after <see cref="ChoicePrompt"/>.</summary>
    public static IReadOnlyList<string> CandidateTokenTexts(IReadOnlyList<string> answers)
    {
        var stem = Stem(answers);
        return answers.Select(word => stem.Length > 0 ? word[stem.Length..] : " " + word).ToList();
    }
}
