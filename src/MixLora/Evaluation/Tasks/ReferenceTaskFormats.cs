using System.Text;

namespace MixLora.Evaluation;

/// <summary>
/// The reference's prompts for the original dataset records of the eight commonsense tasks (spec §8.2, identical in
/// mLoRA and MoE-PEFT). Field names are those of the Hugging Face datasets; labels stored as strings on the Hub
/// (SIQA, HellaSwag, WinoGrande) are accepted as numbers too.
/// </summary>
public static class ReferenceTaskFormats
{
    private static readonly string[] Arc = ["1", "2", "3", "4", "A", "B", "C", "D", "E"];
    private static readonly string[] Letters = ["A", "B", "C", "D"];

    /// <summary>The formats in the registry order of <see cref="Data.CommonsenseTasks.All"/>.</summary>
    public static IReadOnlyList<ReferenceTaskFormat> All { get; } =
    [
        new("arc-e", "test", Arc, ["question", "choices.text", "choices.label", "answerKey"], (r, f) => ChoiceQuestion(r, f, "question", maxChoices: 5)),
        new("arc-c", "test", Arc, ["question", "choices.text", "choices.label", "answerKey"], (r, f) => ChoiceQuestion(r, f, "question", maxChoices: 5)),
        new("boolq", "validation", ["true", "false"], ["question", "answer"], BoolQ),
        new("obqa", "test", Letters, ["question_stem", "choices.text", "choices.label", "answerKey"], (r, f) => ChoiceQuestion(r, f, "question_stem", maxChoices: 4)),
        new("piqa", "validation", ["A", "B"], ["goal", "sol1", "sol2", "label"], Piqa),
        new("siqa", "validation", ["A", "B", "C"], ["context", "question", "answerA", "answerB", "answerC", "label"], Siqa),
        new("hellaswag", "validation", Letters, ["activity_label", "ctx", "endings", "label"], HellaSwag),
        new("winogrande", "validation", ["A", "B"], ["sentence", "option1", "option2", "answer"], WinoGrande),
    ];

    /// <summary>The format of a task key, or null.</summary>
    public static ReferenceTaskFormat? Find(string key) => All.FirstOrDefault(f => f.Key == key);

    // ARC and OBQA: "Please choose the correct answer to the question: " + question, " (label) text" per choice, "\nAnswer:".
    private static ReferenceQuestion ChoiceQuestion(RecordFields r, ReferenceTaskFormat format, string questionField, int maxChoices)
    {
        var question = r.String(questionField);
        var choices = r.Object("choices");
        var texts = choices.StringList("text");
        var labels = choices.StringList("label");
        if (texts.Count != labels.Count)
            throw new RecordFormatException("choices", $"has {texts.Count} texts but {labels.Count} labels");
        if (texts.Count < 2 || texts.Count > maxChoices)
            throw new RecordFormatException("choices", $"has {texts.Count} choices; expected 2 to {maxChoices}");

        var prompt = new StringBuilder("Please choose the correct answer to the question: ").Append(question);
        for (int i = 0; i < texts.Count; i++) prompt.Append(" (").Append(labels[i]).Append(") ").Append(texts[i]);
        prompt.Append("\nAnswer:");

        var answerKey = r.String("answerKey");
        int label = format.LabelOf(answerKey, "answerKey");
        if (!labels.Contains(answerKey))
            throw new RecordFormatException("answerKey", $"\"{answerKey}\" is not one of the record's choice labels ({string.Join(", ", labels)})");
        return new ReferenceQuestion(prompt.ToString(), label, answerKey);
    }

    private static ReferenceQuestion BoolQ(RecordFields r, ReferenceTaskFormat format)
    {
        var prompt = "Please answer the following question with true or false: " + r.String("question") + "?\nAnswer:";
        return format.Question(prompt, r.Bool("answer") ? 0 : 1, "answer", "");
    }

    private static ReferenceQuestion Piqa(RecordFields r, ReferenceTaskFormat format)
    {
        var prompt = "Below is a common task along with two possible solutions labeled (A) and (B). Please select the appropriate solution to achieve the task:\n" +
                     r.String("goal") + "\n\n(A) " + r.String("sol1") + "\n(B) " + r.String("sol2") + "\n\nCorrect solution:";
        int label = r.Integer("label");
        return format.Question(prompt, label, "label", $"label {label}");
    }

    private static ReferenceQuestion Siqa(RecordFields r, ReferenceTaskFormat format)
    {
        var prompt = "Please choose the correct answer to the question.\nQuestion: " + r.String("context") + " " + r.String("question") +
                     "\n(A) " + r.String("answerA") + "\n(B) " + r.String("answerB") + "\n(C) " + r.String("answerC") + "\nAnswer:";
        int label = r.Integer("label"); // "1".."3"
        return format.Question(prompt, label - 1, "label", $"label {label} (1-based)");
    }

    private static ReferenceQuestion HellaSwag(RecordFields r, ReferenceTaskFormat format)
    {
        var prompt = new StringBuilder("Please choose the correct ending to complete the given sentence.\nSentence: ")
            .Append(r.String("activity_label")).Append(". ").Append(r.String("ctx"));
        var endings = r.StringList("endings");
        if (endings.Count != format.Candidates.Count)
            throw new RecordFormatException("endings", $"has {endings.Count} endings; expected {format.Candidates.Count}");
        for (int i = 0; i < endings.Count; i++) prompt.Append("\n(").Append(format.Candidates[i]).Append(") ").Append(endings[i]);
        prompt.Append("\nAnswer:");
        int label = r.Integer("label"); // "0".."3"
        return format.Question(prompt.ToString(), label, "label", $"label {label}");
    }

    private static ReferenceQuestion WinoGrande(RecordFields r, ReferenceTaskFormat format)
    {
        var prompt = "Please choose the correct answer to fill in the blank to complete the given sentence.\nSentence: " + r.String("sentence") +
                     "\n(A) " + r.String("option1") + "\n(B) " + r.String("option2") + "\nAnswer:";
        int label = r.Integer("answer"); // "1" or "2"
        return format.Question(prompt, label - 1, "answer", $"answer {label} (1-based)");
    }
}
