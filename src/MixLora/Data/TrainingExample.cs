using MixLora.Tokenization;

namespace MixLora.Data;

/// <summary>Tokenisation of training texts (spec §6.2, §6.4, plus this library's train_on_inputs and add_eos).</summary>
public static class TrainingExample
{
    /// <summary>
    /// Encodes <paramref name="fullText"/> with the tokenizer's special tokens (BOS when the tokenizer adds it),
    /// appends EOS when <paramref name="addEos"/>, then keeps the first <paramref name="cutoffLen"/> tokens. EOS is
    /// appended before truncation on purpose: a text cut short does not really end there, so it gets no EOS.
    /// Label mask: every token when <paramref name="trainOnInputs"/>; otherwise only the tokens after the prompt.
    /// The prompt's extent is the common prefix of the prompt's and the full text's token ids, so a token that
    /// straddles the prompt/response boundary (merged by the tokenizer) counts as response.
    /// </summary>
    /// <param name="cutoffLen">Maximum tokens (&gt; 0; resolve -1 with TrainingConfig.ResolveCutoffLen first).</param>
    public static TokenizedExample Encode(ITextTokenizer tokenizer, string prompt, string fullText, int cutoffLen, bool addEos, bool trainOnInputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(cutoffLen, 0);
        var ids = new List<int>(tokenizer.Encode(fullText, addSpecialTokens: true));
        if (addEos)
        {
            ids.Add(tokenizer.EosId ?? throw new MixLoraException("add_eos is true but the tokenizer has no EOS token"));
        }
        if (ids.Count > cutoffLen) ids.RemoveRange(cutoffLen, ids.Count - cutoffLen);

        var mask = new int[ids.Count];
        int promptTokens = trainOnInputs ? 0 : CommonPrefixLength(tokenizer.Encode(prompt, addSpecialTokens: true), ids);
        for (int t = promptTokens; t < mask.Length; t++) mask[t] = 1;
        return new TokenizedExample(ids.ToArray(), mask);
    }

    /// <summary>Encodes one <see cref="TrainingText"/>.</summary>
    public static TokenizedExample Encode(ITextTokenizer tokenizer, TrainingText text, int cutoffLen, bool addEos, bool trainOnInputs) =>
        Encode(tokenizer, text.Prompt, text.Full, cutoffLen, addEos, trainOnInputs);

    /// <summary>Encodes every text, in order.</summary>
    public static IReadOnlyList<TokenizedExample> EncodeAll(ITextTokenizer tokenizer, IEnumerable<TrainingText> texts, int cutoffLen, bool addEos, bool trainOnInputs) =>
        texts.Select(text => Encode(tokenizer, text, cutoffLen, addEos, trainOnInputs)).ToList();

    private static int CommonPrefixLength(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = Math.Min(a.Count, b.Count);
        int i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
