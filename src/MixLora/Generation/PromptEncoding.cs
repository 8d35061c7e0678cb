using MixLora.Tokenization;

namespace MixLora.Generation;

/// <summary>Turns prompt text into the ids generation starts from.</summary>
public static class PromptEncoding
{
    /// <summary>Encodes with the tokenizer's special tokens (BOS where it adds one); an empty prompt is BOS alone.</summary>
    public static IReadOnlyList<int> Encode(ITextTokenizer tokenizer, string prompt)
    {
        if (prompt.Length == 0)
        {
            if (tokenizer.BosId is int bos) return [bos];
            throw new MixLoraException("the prompt is empty and the tokenizer has no BOS token to start from; give a --prompt");
        }
        var ids = tokenizer.Encode(prompt, addSpecialTokens: true);
        if (ids.Count == 0) throw new MixLoraException("the prompt encodes to no tokens");
        return ids;
    }

    /// <summary>Refuses prompt ids the model has no embedding for (a tokenizer from another model, or raw ids out of range).</summary>
    /// <exception cref="MixLoraException">An id is negative or not below <paramref name="vocabSize"/>.</exception>
    public static void ThrowIfOutsideVocabulary(IReadOnlyList<int> ids, int vocabSize)
    {
        if (ids.FirstOrDefault(id => id < 0 || id >= vocabSize, -1) is var bad and not -1)
            throw new MixLoraException($"prompt token id {bad} is outside the model's vocabulary [0, {vocabSize}); the tokenizer does not belong to this model");
    }
}
