namespace MixLora.Data;

/// <summary>
/// A commonsense QA task key (spec §8.1) with the data layout this library trains it from: the LLM-Adapters files
/// (<c>dataset/&lt;Folder&gt;/train.json</c>, records {instruction, input, output, answer}).
/// </summary>
/// <param name="Key">The reference task key, e.g. "arc-c".</param>
/// <param name="Folder">The LLM-Adapters dataset folder, e.g. "ARC-Challenge".</param>
/// <param name="Answers">The <c>answer</c> values of the LLM-Adapters records, in order (e.g. answer1…answer4).</param>
public sealed record CommonsenseTask(string Key, string Folder, IReadOnlyList<string> Answers)
{
    /// <summary>Name of the training file inside <see cref="Folder"/>.</summary>
    public const string TrainFileName = "train.json";

    /// <summary>The adapter name <c>launch.py gen</c> derives from the key: "arc-c" → "arc_c".</summary>
    public string AdapterNameStem => Key.Split(':')[^1].Replace('-', '_');
}
