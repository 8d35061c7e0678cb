namespace MixLora.Tokenization;

/// <summary>
/// Hugging Face's <c>clean_up_tokenization</c>, applied by decode when tokenizer_config.json sets
/// clean_up_tokenization_spaces: removes the space before punctuation and English contractions.
/// </summary>
internal static class TokenizationCleanup
{
    private static readonly (string From, string To)[] Replacements =
    [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ];

    public static string Apply(string text)
    {
        foreach (var (from, to) in Replacements) text = text.Replace(from, to, StringComparison.Ordinal);
        return text;
    }
}
