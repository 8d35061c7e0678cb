namespace MixLora.Tokenization;

/// <summary>
/// Text to token ids and back, for a model folder's tokenizer. Implementations are immutable after loading and
/// safe to use from several threads.
/// </summary>
/// <remarks>
/// Streaming: <see cref="Decode"/> is deterministic, and decoding a longer id list extends the text of a shorter
/// prefix list, so a generator may decode the whole list each step and print the new suffix. To keep that true
/// when a character's UTF-8 bytes are split over several tokens, a trailing incomplete UTF-8 sequence at the very
/// end of the ids is held back (left out) until the tokens that complete it arrive; invalid bytes elsewhere become
/// U+FFFD. The one exception is <c>clean_up_tokenization_spaces</c> (when tokenizer_config.json enables it): it
/// deletes the space before punctuation such as " ." or " ?", which can rewrite the last character printed.
/// </remarks>
public interface ITextTokenizer
{
    /// <summary>
    /// "sentencepiece" (a tokenizer.model), "byte-level-bpe" (a byte-level BPE tokenizer.json) or
    /// "sentencepiece-json" (a SentencePiece-style BPE tokenizer.json: '▁' for spaces, byte fallback).
    /// </summary>
    string Kind { get; }

    /// <summary>Number of ids, including added tokens (one more than the largest id).</summary>
    int VocabSize { get; }

    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }
    int? UnkId { get; }

    /// <summary>Whether <c>Encode(text, addSpecialTokens: true)</c> prepends <see cref="BosId"/>.</summary>
    bool AddBos { get; }

    /// <summary>Token ids of <paramref name="text"/>; prepends BOS when <paramref name="addSpecialTokens"/> and
    /// <see cref="AddBos"/>. Never appends EOS.</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Text of <paramref name="ids"/>. Ids outside the vocabulary are ignored.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>The vocabulary entry of an id (SentencePiece piece, byte-level BPE token), or null.</summary>
    string? IdToToken(int id);
}
