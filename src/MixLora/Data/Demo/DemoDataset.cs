namespace MixLora.Data;

/// <summary>
/// A small multi-task instruction dataset bundled for the no-argument training demo on stories260K. The base model
/// answers (almost) none of it; a MixLoRA adapter learns the rules in a few minutes on a CPU. Generated in code,
/// deterministically: <see cref="Validation"/> uses only words that never occur in <see cref="Train"/>.
/// </summary>
public static class DemoDataset
{
    private static readonly Lazy<IReadOnlyList<DemoRecord>> TrainLazy = new(() => Generate(heldOut: false));
    private static readonly Lazy<IReadOnlyList<DemoRecord>> ValidationLazy = new(() => Generate(heldOut: true));

    /// <summary>Training examples, tasks interleaved.</summary>
    public static IReadOnlyList<DemoRecord> Train => TrainLazy.Value;

    /// <summary>Held-out examples built from words absent from <see cref="Train"/>, tasks interleaved.</summary>
    public static IReadOnlyList<DemoRecord> Validation => ValidationLazy.Value;

    /// <summary>Task names, in order (see <see cref="DemoTasks"/>).</summary>
    public static IReadOnlyList<string> TaskNames => DemoTasks.All;

    /// <summary>What the model sees before its answer: <c>"Q: {instruction}\nA:"</c>.</summary>
    public static string Prompt(DemoRecord record) => $"Q: {record.Instruction}\nA:";

    /// <summary>
    /// The training text: prompt, a space, the answer and a full stop. The full stop, not EOS, marks the end of the
    /// answer: stories260K was pretrained without EOS tokens, and learning to emit one costs far more steps than
    /// learning the task, while "." after a word is what the model already does.
    /// </summary>
    public static string FullText(DemoRecord record) => $"{Prompt(record)} {record.Output}.";

    /// <summary>
    /// Upper bound on the stories260K tokens of an answer with its space and full stop (<c>FullText</c> minus
    /// <c>Prompt</c>); a generation budget of this many new tokens always reaches the end of the answer.
    /// </summary>
    public const int MaxAnswerTokens = 5;

    /// <summary>
    /// Whether a generated continuation of <see cref="Prompt"/> answers <paramref name="record"/>: its first word,
    /// with surrounding punctuation trimmed, equals the answer ignoring case.
    /// </summary>
    public static bool IsCorrect(string generatedContinuation, DemoRecord record) =>
        string.Equals(FirstWord(generatedContinuation), record.Output, StringComparison.OrdinalIgnoreCase);

    /// <summary>The first whitespace-separated word with leading/trailing punctuation removed ("" if none).</summary>
    public static string FirstWord(string text)
    {
        foreach (var word in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var trimmed = word.Trim().Trim(PunctuationAround);
            if (trimmed.Length > 0) return trimmed;
        }
        return "";
    }

    private static readonly char[] PunctuationAround = ".,!?;:\"'()[]“”‘’…-—".ToCharArray();

    /// <summary>Held-out examples per task (the training set has one per training noun).</summary>
    public const int ValidationPerTask = 40;

    /// <summary>Builds the training (<paramref name="heldOut"/> false) or held-out records afresh; same result every call.</summary>
    public static IReadOnlyList<DemoRecord> Generate(bool heldOut)
    {
        var nouns = DemoVocabulary.Nouns(heldOut);
        var names = DemoVocabulary.Names(heldOut);
        int perTask = heldOut ? ValidationPerTask : nouns.Count;
        var byTask = new List<DemoRecord>[]
        {
            SpreadEvenly(nouns, names).Take(perTask).Select(DemoTasks.RepeatRecord).ToList(),
            DistinctPairs(names, nouns, perTask, offset: perTask).Select(p => DemoTasks.WhoRecord(p.Name, p.Noun)).ToList(),
            DistinctPairs(names, nouns, perTask).Select(p => DemoTasks.WhatRecord(p.Name, p.Noun)).ToList(),
            nouns.Take(perTask).Select(DemoTasks.PluralRecord).ToList(),
        };
        var records = new List<DemoRecord>();
        int longest = byTask.Max(t => t.Count);
        for (int i = 0; i < longest; i++)
            foreach (var task in byTask)
                if (i < task.Count) records.Add(task[i]);
        return records;
    }

    /// <summary>Both lists merged so that each one's items are spread evenly over the result (names among nouns).</summary>
    private static IEnumerable<string> SpreadEvenly(IReadOnlyList<string> a, IReadOnlyList<string> b) =>
        a.Select((w, i) => (Key: (i + 0.5) / a.Count, Word: w))
         .Concat(b.Select((w, i) => (Key: (i + 0.5) / b.Count, Word: w)))
         .OrderBy(x => x.Key)
         .Select(x => x.Word);

    /// <summary>
    /// <paramref name="count"/> distinct (name, noun) pairs spread over the whole grid: index k·stride mod N with a
    /// stride coprime to N visits every cell once, so neither names nor nouns cluster.
    /// </summary>
    private static List<(string Name, string Noun)> DistinctPairs(IReadOnlyList<string> names, IReadOnlyList<string> nouns, int count, int offset = 0)
    {
        int cells = names.Count * nouns.Count;
        int stride = 7;
        while (Gcd(stride, cells) != 1) stride += 2;
        var pairs = new List<(string, string)>();
        for (int k = 0; k < Math.Min(count, cells); k++)
        {
            int cell = (int)(((long)(k + offset) * stride) % cells);
            pairs.Add((names[cell % names.Count], nouns[cell / names.Count]));
        }
        return pairs;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
