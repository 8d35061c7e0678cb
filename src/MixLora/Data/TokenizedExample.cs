namespace MixLora.Data;

/// <summary>
/// A tokenised training example. <see cref="LabelMask"/>[t] = 1 when token t counts as a prediction target in the
/// loss (it is predicted from positions &lt; t), 0 when it does not. Position 0 (BOS) is never predicted, whatever
/// its mask says; padding is added later by the batcher.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, int[] LabelMask)
{
    public int Length => InputIds.Length;

    /// <summary>Number of tokens whose mask is 1.</summary>
    public int TargetCount => LabelMask.Count(m => m != 0);
}
