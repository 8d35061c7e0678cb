namespace MixLora.Data;

/// <summary>
/// A small multi-task instruction dataset bundled for the no-argument training demo on stories260K (see
/// <see cref="DemoTasks"/>). The base model answers none of it; a MixLoRA adapter learns the rules in a couple of
/// minutes on a CPU. Generated in code, deterministically. <see cref="Validation"/> uses only real words that never
/// occur in <see cref="Train"/>; <see cref="Train"/> mixes real words with made-up ones so that the adapter learns
/// the rule instead of memorising the words.
/// </summary>
public static class DemoDataset
{
    /// <summary>Held-out examples per task.</summary>
    public const int ValidationPerTask = 40;

    /// <summary>Training examples per task built from made-up words (on top of one per real training noun).</summary>
    public const int MadeUpPerTask = 859;

    /// <summary>
    /// Upper bound on the stories260K tokens of an answer with its space and full stop (<c>FullText</c> minus
    /// <c>Prompt</c>); a generation budget of this many new tokens always reaches the end of the answer.
    /// </summary>
    public const int MaxAnswerTokens = 5;

    private const ulong MadeUpSeed = 20240611;

    private static readonly Lazy<IReadOnlyList<DemoRecord>> TrainLazy = new(() => Generate(heldOut: false));
    private static readonly Lazy<IReadOnlyList<DemoRecord>> ValidationLazy = new(() => Generate(heldOut: true));

    /// <summary>Training examples: tasks interleaved, real and made-up words interleaved.</summary>
    public static IReadOnlyList<DemoRecord> Train => TrainLazy.Value;

    /// <summary>Held-out examples from real words absent from <see cref="Train"/>, tasks interleaved.</summary>
    public static IReadOnlyList<DemoRecord> Validation => ValidationLazy.Value;

    /// <summary>Task names, in order (see <see cref="DemoTasks"/>).</summary>
    public static IReadOnlyList<string> TaskNames => DemoTasks.All;

    /// <summary>What the model sees before its answer: <c>"Q: {instruction}\nA:"</c>.</summary>
    public static string Prompt(DemoRecord record) => $"Q: {record.Instruction}\nA:";

    /// <summary>
    /// The training text: prompt, a space, the answer and a full stop. The full stop, not EOS, marks the end of the
    /// answer: stories260K was pretrained without EOS tokens, and learning to emit one costs far more steps than
    /// the task itself, while "." after a word is what the model already does.
    /// </summary>
    public static string FullText(DemoRecord record) => $"{Prompt(record)} {record.Output}.";

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
            var trimmed = word.Trim(PunctuationAround);
            if (trimmed.Length > 0) return trimmed;
        }
        return "";
    }

    private static readonly char[] PunctuationAround = ".,!?;:\"'()[]“”‘’…-—".ToCharArray();

    /// <summary>Builds the training (<paramref name="heldOut"/> false) or held-out records afresh; same result every call.</summary>
    public static IReadOnlyList<DemoRecord> Generate(bool heldOut)
    {
        var nouns = DemoVocabulary.Nouns(heldOut);
        var names = DemoVocabulary.Names(heldOut);
        int perTask = heldOut ? ValidationPerTask : nouns.Count;
        var byTask = new List<DemoRecord>[]
        {
            SpreadEvenly(nouns, names).Take(perTask).Select(DemoTasks.RepeatRecord).ToList(),
            Pairs(names, nouns, perTask, offset: nouns.Count / 2).Select(p => DemoTasks.WhoRecord(p.Name, p.Noun)).ToList(),
            Pairs(names, nouns, perTask).Select(p => DemoTasks.WhatRecord(p.Name, p.Noun)).ToList(),
            nouns.Take(perTask).Select(DemoTasks.PluralRecord).ToList(),
        };
        if (!heldOut)
        {
            var madeUp = MadeUpRecords();
            for (int t = 0; t < byTask.Length; t++)
                byTask[t] = SpreadEvenly(byTask[t], madeUp[t]).ToList();
        }
        return Interleave(byTask);
    }

    /// <summary>Per task (in <see cref="DemoTasks.All"/> order), <see cref="MadeUpPerTask"/> records of made-up words.</summary>
    private static List<DemoRecord>[] MadeUpRecords()
    {
        var words = new MadeUpWords(MadeUpSeed, DemoVocabulary.All.Concat(DemoTasks.FrameWords).Concat(ShortEnglishWords));
        var byTask = DemoTasks.All.Select(_ => new List<DemoRecord>()).ToArray();
        for (int i = 0; i < MadeUpPerTask; i++)
        {
            byTask[0].Add(DemoTasks.RepeatRecord(i % 4 == 3 ? Capitalized(words.Next()) : words.Next()));
            byTask[1].Add(DemoTasks.WhoRecord(Capitalized(words.Next()), words.Next()));
            byTask[2].Add(DemoTasks.WhatRecord(Capitalized(words.Next()), words.Next()));
            byTask[3].Add(DemoTasks.PluralRecord(words.Next()));
        }
        return byTask;
    }

    /// <summary>Two-letter English words a vowel-consonant made-up word could hit ("One it, many" would confuse).</summary>
    private static readonly string[] ShortEnglishWords = ["am", "an", "at", "in", "it", "of", "on", "up", "us", "ok", "ow", "oh", "id", "if"];

    private static string Capitalized(string word) => char.ToUpperInvariant(word[0]) + word[1..];

    private static List<DemoRecord> Interleave(IReadOnlyList<List<DemoRecord>> byTask)
    {
        var records = new List<DemoRecord>();
        int longest = byTask.Max(t => t.Count);
        for (int i = 0; i < longest; i++)
            foreach (var task in byTask)
                if (i < task.Count) records.Add(task[i]);
        return records;
    }

    /// <summary>Both lists merged so that each one's items are spread evenly over the result (stable on ties).</summary>
    private static IEnumerable<T> SpreadEvenly<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) =>
        a.Select((item, i) => (Key: (i + 0.5) / a.Count, Item: item))
         .Concat(b.Select((item, i) => (Key: (i + 0.5) / b.Count, Item: item)))
         .OrderBy(x => x.Key)
         .Select(x => x.Item);

    /// <summary>
    /// Up to <paramref name="count"/> (name, noun) pairs, each noun at most once (from <paramref name="offset"/> on,
    /// wrapping) and the names cycling with a stride coprime to their number, so both vary from one pair to the next.
    /// </summary>
    private static List<(string Name, string Noun)> Pairs(IReadOnlyList<string> names, IReadOnlyList<string> nouns, int count, int offset = 0)
    {
        int stride = 3;
        while (Gcd(stride, names.Count) != 1) stride += 2;
        return Enumerable.Range(0, Math.Min(count, nouns.Count))
            .Select(k => (names[(k * stride + offset) % names.Count], nouns[(k + offset) % nouns.Count]))
            .ToList();
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
