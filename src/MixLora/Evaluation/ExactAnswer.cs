namespace MixLora.Evaluation;

/// <summary>
/// How the exact metric reads an answer from a greedy generation and compares it with the gold output.
/// Training renders a record as prompt + output + "\n" and adds no EOS unless asked, so a trained model ends its answer
/// with a line break and then goes on writing; the answer is therefore the generation's first L lines (leading
/// whitespace skipped), where L is the number of lines of the gold output: one line for a one-line answer. Both sides
/// are trimmed of surrounding whitespace ("\r\n" counts as "\n") and compared ordinally, case-sensitively.
/// </summary>
public static class ExactAnswer
{
    /// <summary>The text as compared: line ends as "\n", surrounding whitespace trimmed.</summary>
    public static string Normalize(string text) => text.Replace("\r\n", "\n").Trim();

    /// <summary>Lines of the gold output (after <see cref="Normalize"/>), i.e. how many lines of a generation are its answer.</summary>
    public static int LineCount(string reference) => Normalize(reference).Count(c => c == '\n') + 1;

    /// <summary>The answer in <paramref name="generated"/>: its first <paramref name="lines"/> lines, normalised ("" when there is none).</summary>
    public static string Read(string generated, int lines)
    {
        var text = generated.Replace("\r\n", "\n").TrimStart();
        int end = -1;
        for (int line = 0; line < lines; line++)
        {
            end = text.IndexOf('\n', end + 1);
            if (end < 0) return text.Trim();
        }
        return text[..end].Trim();
    }

    /// <summary>Whether generating more could not change the answer: the answer's lines are complete, each ended by a line break.</summary>
    public static bool IsComplete(string generated, int lines) => generated.TrimStart().Count(c => c == '\n') >= lines;

    /// <summary>True when the answer equals <paramref name="reference"/>, false when it differs, null when the generation has no answer (empty).</summary>
    public static bool? Judge(string generated, string reference)
    {
        var answer = Read(generated, LineCount(reference));
        return answer.Length == 0 ? null : answer == Normalize(reference);
    }
}
