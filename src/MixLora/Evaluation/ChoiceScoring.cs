namespace MixLora.Evaluation;

/// <summary>How the choice protocol compares candidates.</summary>
public enum ChoiceScoring
{
    /// <summary>
    /// The reference's rule (spec §8.4): the next-token logit of each candidate's last token id right after the prompt.
    /// Exact when every candidate is one token; for multi-token candidates it compares pieces the model does not
    /// predict at that position.
    /// </summary>
    LastToken,

    /// <summary>
    /// The log-likelihood of each candidate's whole continuation (the sum of its tokens' log-probabilities, prompt and
    /// candidate tokenised together). Picks the same answer as <see cref="LastToken"/> when every candidate is one
    /// token; meaningful for any tokenizer. Costs one row per candidate.
    /// </summary>
    Sequence,
}
