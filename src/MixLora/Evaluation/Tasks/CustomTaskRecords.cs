using MixLora.Data;

namespace MixLora.Evaluation;

/// <summary>
/// Reads one record of a user's own task file, in the format documented at <see cref="EvaluationTasks.LoadCustom"/>;
/// every problem is a <see cref="RecordFormatException"/> naming the field.
/// </summary>
internal static class CustomTaskRecords
{
    /// <summary>The field names a record's option list may have, in order of preference.</summary>
    public static IReadOnlyList<string> OptionFields { get; } = ["options", "choices"];

    public static EvaluationExample Read(RecordFields r, int index, CustomTaskMetric metric, PromptTemplate template)
    {
        var prompt = Prompt(r, template);
        return metric == CustomTaskMetric.Exact
            ? EvaluationExample.Exact(index, prompt, Output(r))
            : Choice(r, index, prompt);
    }

    private static string Prompt(RecordFields r, PromptTemplate template)
    {
        if (r.Has("prompt"))
        {
            if (r.Has("instruction")) throw new RecordFormatException(null, "has both \"instruction\" and \"prompt\"; give one (instruction is rendered with the template, prompt is used as is)");
            if (r.Has("input")) throw new RecordFormatException("input", "goes with \"instruction\" (the template places it); with \"prompt\", write it into the prompt");
            return NonEmpty(r, "prompt");
        }
        if (!r.Has("instruction")) throw new RecordFormatException(null, "has neither \"instruction\" (rendered with the template) nor \"prompt\" (used as is)");
        return template.Render(NonEmpty(r, "instruction"), r.OptionalString("input") ?? "").Prompt;
    }

    private static string Output(RecordFields r)
    {
        if (!r.Has("output")) throw new RecordFormatException("output", "missing (the exact metric compares the greedy answer with it)");
        var output = r.String("output");
        // An empty generation counts as unanswered, so an empty gold answer could never be matched.
        if (ExactAnswer.Normalize(output).Length == 0) throw new RecordFormatException("output", "is empty");
        return output;
    }

    private static EvaluationExample Choice(RecordFields r, int index, string prompt)
    {
        var present = OptionFields.Where(r.Has).ToList();
        if (present.Count == 0) throw new RecordFormatException("options", "missing (the choice metric needs a list of options; \"choices\" is read too)");
        if (present.Count > 1) throw new RecordFormatException(null, $"has both {string.Join(" and ", present.Select(f => $"\"{f}\""))}; give one list of options");
        var field = present[0];
        var options = r.StringList(field);
        if (options.Count < 2) throw new RecordFormatException(field, $"has {options.Count} option(s); expected at least 2");
        var keys = options.Select(o => o.Trim()).ToList();
        for (int i = 0; i < keys.Count; i++)
        {
            if (keys[i].Length == 0) throw new RecordFormatException(field, $"option {i} is empty");
            int first = keys.IndexOf(keys[i]);
            if (first < i) throw new RecordFormatException(field, $"options {first} and {i} are the same text \"{keys[i]}\"");
        }
        return EvaluationExample.Choice(index, prompt, options, Label(r, field, keys));
    }

    private static int Label(RecordFields r, string optionsField, List<string> keys)
    {
        if (r.IsNumber("answer"))
        {
            int label = r.Integer("answer");
            return label >= 0 && label < keys.Count
                ? label
                : throw new RecordFormatException("answer", $"index {label} is outside the {keys.Count} options (0-based)");
        }
        var field = r.Has("answer") ? "answer" : r.Has("output") ? "output"
            : throw new RecordFormatException(null, "has neither \"answer\" (an option's 0-based index or text) nor \"output\" (an option's text)");
        var text = r.String(field).Trim();
        int found = keys.IndexOf(text);
        return found >= 0 ? found : throw new RecordFormatException(field, $"\"{text}\" is not one of the {keys.Count} {optionsField}");
    }

    private static string NonEmpty(RecordFields r, string name)
    {
        var text = r.String(name);
        return text.Length > 0 ? text : throw new RecordFormatException(name, "is empty");
    }
}
