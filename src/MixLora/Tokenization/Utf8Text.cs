using System.Text;

namespace MixLora.Tokenization;

/// <summary>UTF-8 helpers shared by the tokenizers: lossy decoding with a held-back tail, and surrogate cleanup.</summary>
internal static class Utf8Text
{
    private const char Replacement = '\uFFFD';

    /// <summary>
    /// Decodes <paramref name="bytes"/> into <paramref name="output"/>. Structurally invalid bytes become U+FFFD:
    /// one per byte when <paramref name="replacePerByte"/> (SentencePiece's rule), otherwise one per maximal invalid
    /// subpart (the Unicode/Rust <c>from_utf8_lossy</c> rule used by Hugging Face). When
    /// <paramref name="holdBackIncompleteTail"/> is set, a sequence cut off by the end of the buffer is left out
    /// instead of being replaced, so that a later decode with more bytes extends the text rather than rewriting it.
    /// </summary>
    public static void DecodeLossy(ReadOnlySpan<byte> bytes, StringBuilder output, bool replacePerByte, bool holdBackIncompleteTail)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            var (status, length) = ScanSequence(bytes[offset..]);
            if (status == SequenceStatus.Valid)
            {
                Rune.DecodeFromUtf8(bytes.Slice(offset, length), out var rune, out _);
                output.Append(rune.ToString());
                offset += length;
            }
            else if (status == SequenceStatus.Incomplete && holdBackIncompleteTail)
            {
                return;
            }
            else
            {
                output.Append(Replacement);
                offset += replacePerByte ? 1 : length;
            }
        }
    }

    /// <summary>
    /// How many bytes at the end of <paramref name="bytes"/> start a UTF-8 sequence that is valid so far but cut
    /// off (0 to 3): the bytes a streaming decoder holds back until the rest of the character arrives.
    /// </summary>
    public static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (int length = 1; length <= Math.Min(3, bytes.Length); length++)
        {
            var (status, scanned) = ScanSequence(bytes[^length..]);
            if (status == SequenceStatus.Incomplete && scanned == length) return length;
        }
        return 0;
    }

    /// <summary>Replaces unpaired UTF-16 surrogates with U+FFFD, so the text can be normalized and UTF-8 encoded.</summary>
    public static string ReplaceLoneSurrogates(string text)
    {
        int i = 0;
        for (; i < text.Length; i++)
        {
            if (char.IsSurrogate(text[i]) && !IsPairAt(text, i)) break;
            if (char.IsHighSurrogate(text[i])) i++;
        }
        if (i == text.Length) return text;

        var builder = new StringBuilder(text.Length);
        for (int j = 0; j < text.Length; j++)
        {
            if (IsPairAt(text, j)) { builder.Append(text, j, 2); j++; }
            else builder.Append(char.IsSurrogate(text[j]) ? Replacement : text[j]);
        }
        return builder.ToString();
    }

    private static bool IsPairAt(string text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);

    private enum SequenceStatus { Valid, Invalid, Incomplete }

    /// <summary>
    /// Classifies the sequence starting at bytes[0]. For Valid the length is the sequence length; for Invalid and
    /// Incomplete it is the length of the maximal prefix that could still start a valid sequence (at least 1).
    /// </summary>
    private static (SequenceStatus Status, int Length) ScanSequence(ReadOnlySpan<byte> bytes)
    {
        byte lead = bytes[0];
        int needed;
        byte secondMin = 0x80, secondMax = 0xBF;
        if (lead < 0x80) return (SequenceStatus.Valid, 1);
        else if (lead >= 0xC2 && lead <= 0xDF) needed = 2;
        else if (lead == 0xE0) { needed = 3; secondMin = 0xA0; }
        else if (lead >= 0xE1 && lead <= 0xEC) needed = 3;
        else if (lead == 0xED) { needed = 3; secondMax = 0x9F; }
        else if (lead >= 0xEE && lead <= 0xEF) needed = 3;
        else if (lead == 0xF0) { needed = 4; secondMin = 0x90; }
        else if (lead >= 0xF1 && lead <= 0xF3) needed = 4;
        else if (lead == 0xF4) { needed = 4; secondMax = 0x8F; }
        else return (SequenceStatus.Invalid, 1);

        for (int k = 1; k < needed; k++)
        {
            if (k >= bytes.Length) return (SequenceStatus.Incomplete, k);
            byte min = k == 1 ? secondMin : (byte)0x80;
            byte max = k == 1 ? secondMax : (byte)0xBF;
            if (bytes[k] < min || bytes[k] > max) return (SequenceStatus.Invalid, k);
        }
        return (SequenceStatus.Valid, needed);
    }
}
