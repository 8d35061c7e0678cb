namespace MixLora.Data;

/// <summary>
/// The demo's task names and how each builds its examples from words. All tasks follow a rule that works for any
/// word (copy it, pick it out of a sentence, add "s"), so a model that learned the rule also answers for words it
/// never saw in training; the held-out examples measure exactly that.
/// </summary>
public static class DemoTasks
{
    /// <summary>"Say again: ball" → "ball".</summary>
    public const string Repeat = "repeat";

    /// <summary>"Tim has the ball. Who has it?" → "Tim".</summary>
    public const string Who = "who";

    /// <summary>"Tim has the ball. What does Tim have?" → "ball".</summary>
    public const string What = "what";

    /// <summary>"One cat, many" → "cats".</summary>
    public const string Plural = "plural";

    /// <summary>The tasks in the order the dataset lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Repeat, Who, What, Plural];

    /// <summary>The words of the instruction frames (not the task's words).</summary>
    internal static IReadOnlyList<string> FrameWords { get; } = ["Say", "again", "has", "the", "Who", "it", "What", "does", "have", "One", "many"];

    internal static DemoRecord RepeatRecord(string word) => new(Repeat, $"Say again: {word}", word);

    internal static DemoRecord WhoRecord(string name, string noun) => new(Who, $"{name} has the {noun}. Who has it?", name);

    internal static DemoRecord WhatRecord(string name, string noun) => new(What, $"{name} has the {noun}. What does {name} have?", noun);

    internal static DemoRecord PluralRecord(string noun) => new(Plural, $"One {noun}, many", noun + "s");
}
