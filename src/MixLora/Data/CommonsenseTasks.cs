namespace MixLora.Data;

/// <summary>
/// The task keys this library trains (spec §8.1's commonsense QA keys whose LLM-Adapters data exists). The other
/// reference keys (csqa, pubmedqa, glue:*) are known but not supported.
/// </summary>
public static class CommonsenseTasks
{
    private static IReadOnlyList<string> Numbered(string stem, int count) =>
        Enumerable.Range(1, count).Select(i => $"{stem}{i}").ToList();

    /// <summary>Supported tasks in the reference's registry order.</summary>
    public static IReadOnlyList<CommonsenseTask> All { get; } =
    [
        new("arc-e", "ARC-Easy", Numbered("answer", 5)),
        new("arc-c", "ARC-Challenge", Numbered("answer", 5)),
        new("boolq", "boolq", ["true", "false"]),
        new("obqa", "openbookqa", Numbered("answer", 4)),
        new("piqa", "piqa", Numbered("solution", 2)),
        new("siqa", "social_i_qa", Numbered("answer", 3)),
        new("hellaswag", "hellaswag", Numbered("ending", 4)),
        new("winogrande", "winogrande", Numbered("option", 2)),
    ];

    /// <summary>Reference task keys this library does not train (no LLM-Adapters data, or sequence classification).</summary>
    public static IReadOnlyList<string> UnsupportedReferenceKeys { get; } =
    [
        "csqa", "pubmedqa", "glue:cola", "glue:mnli", "glue:mrpc", "glue:qnli", "glue:qqp", "glue:rte", "glue:sst2", "glue:wnli",
    ];

    public static IReadOnlyList<string> Keys { get; } = All.Select(t => t.Key).ToList();

    /// <summary>The task with this key, or null.</summary>
    public static CommonsenseTask? Find(string key) => All.FirstOrDefault(t => t.Key == key);

    /// <summary>Whether <paramref name="key"/> is any reference task key (supported or not).</summary>
    public static bool IsReferenceKey(string key) => Find(key) is not null || UnsupportedReferenceKeys.Contains(key);

    /// <summary>The error text for a task key that is not supported.</summary>
    public static string UnsupportedTaskMessage(string key, string taskName) =>
        UnsupportedReferenceKeys.Contains(key)
            ? $"task_name \"{taskName}\": task \"{key}\" is a reference task this library does not support (supported: casual, {string.Join(", ", Keys)})"
            : $"task_name \"{taskName}\": unknown task \"{key}\" (valid: casual, {string.Join(", ", Keys)}; join several with ';')";
}
