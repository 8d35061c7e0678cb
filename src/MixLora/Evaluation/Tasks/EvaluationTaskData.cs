using MixLora.Tokenization;

namespace MixLora.Evaluation;

/// <summary>
/// The evaluation items of one task read from one file: a commonsense task with its candidate answers, or a user's own
/// task (<see cref="Metric"/> set, candidates per item).
/// </summary>
/// <param name="TaskKey">Reference task key (arc-e, arc-c, boolq, obqa, piqa, siqa, hellaswag, winogrande), or a custom task's name.</param>
/// <param name="SourceFile">The file the records came from.</param>
/// <param name="Shape">Record layout of the file.</param>
/// <param name="Candidates">Answer words as they appear in generated text, in label order (e.g. "A","B" or "answer1",...); empty for custom tasks.</param>
/// <param name="CandidateTokenTexts">
/// For each candidate, the text whose <b>last</b> token id stands for it right after <see cref="EvaluationExample.ChoicePrompt"/>
/// (Original shape: <c>" " + label</c> as the reference; LLM-Adapters shape: the part after the candidates' shared stem).
/// </param>
/// <param name="Examples">Well-formed items in file order.</param>
/// <param name="Skipped">Malformed records that were left out.</param>
public sealed record EvaluationTaskData(
    string TaskKey,
    string SourceFile,
    TaskRecordShape Shape,
    IReadOnlyList<string> Candidates,
    IReadOnlyList<string> CandidateTokenTexts,
    IReadOnlyList<EvaluationExample> Examples,
    IReadOnlyList<SkippedRecord> Skipped)
{
    /// <summary>
    /// A custom task's own metric, which decides its scoring whatever the run's protocol; null for the commonsense
    /// tasks (scored by <see cref="EvaluationOptions.Protocol"/> and <see cref="EvaluationOptions.ChoiceScoring"/>).
    /// </summary>
    public CustomTaskMetric? Metric { get; init; }

    /// <summary>
    /// The candidate token ids for <paramref name="tokenizer"/>: the last id of encoding each
    /// <see cref="CandidateTokenTexts"/> entry with special tokens (spec §8.4), e.g. 319 ("▁A") for " A" with Llama-2.
    /// </summary>
    public IReadOnlyList<int> CandidateTokenIds(ITextTokenizer tokenizer) =>
        CandidateTokenTexts.Select(text => tokenizer.Encode(text, addSpecialTokens: true)[^1]).ToList();

    /// <summary>The texts whose likelihood after the prompt is compared for <paramref name="example"/> (sequence scoring).</summary>
    public IReadOnlyList<string> CandidateTextsOf(EvaluationExample example) => example.Options ?? CandidateTokenTexts;
}
