namespace MixLora.Tokenization;

/// <summary>The id that fills padded batch positions.</summary>
public static class TokenizerPadding
{
    /// <summary>PAD, else UNK, else EOS, else 0 (LLaMA tokenizers have no PAD; padded positions are masked anyway).</summary>
    public static int PaddingId(this ITextTokenizer tokenizer) => tokenizer.PadId ?? tokenizer.UnkId ?? tokenizer.EosId ?? 0;
}
