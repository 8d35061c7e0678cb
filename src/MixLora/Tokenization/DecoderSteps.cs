using System.Runtime.InteropServices;
using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// One step of a tokenizer.json decoder: rewrites the list of token strings (tokenizers' decode_chain). Steps see
/// the tokens of the whole id list, so a step that assembles bytes knows when it is at the end of the ids and holds
/// back an incomplete UTF-8 sequence there (see <see cref="ITextTokenizer"/> on streaming).
/// </summary>
internal interface IDecoderStep
{
    List<string> Apply(List<string> tokens);
}

/// <summary>Runs the decoder steps and joins what is left; with no decoder at all, tokenizers joins tokens with spaces.</summary>
internal sealed class DecoderPipeline(IReadOnlyList<IDecoderStep>? steps)
{
    public string Decode(List<string> tokens)
    {
        if (steps is null) return string.Join(' ', tokens);
        foreach (var step in steps) tokens = step.Apply(tokens);
        return string.Concat(tokens);
    }
}

/// <summary>"ByteLevel": all tokens back to bytes through GPT-2's alphabet, then UTF-8 with U+FFFD for invalid parts.</summary>
internal sealed class ByteLevelDecoder : IDecoderStep
{
    public List<string> Apply(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens) ByteLevelAlphabet.AppendBytes(token, bytes);
        var text = new StringBuilder(bytes.Count);
        Utf8Text.DecodeLossy(CollectionsMarshal.AsSpan(bytes), text, replacePerByte: false, holdBackIncompleteTail: true);
        return [text.ToString()];
    }
}

/// <summary>"Replace" in each token (SentencePiece-style files turn '▁' back into ' ').</summary>
internal sealed class ReplaceDecoder(TextReplacer replacer) : IDecoderStep
{
    public List<string> Apply(List<string> tokens) => tokens.ConvertAll(replacer.Apply);
}

/// <summary>
/// "ByteFallback": each run of consecutive "&lt;0xNN&gt;" tokens becomes the text of its bytes when they are valid
/// UTF-8, else one U+FFFD per byte of the run (tokenizers' rule, which differs from SentencePiece's per-byte rule
/// when valid and invalid bytes share a run). An incomplete character at the very end of the ids is held back; a
/// held-back run that more bytes then make invalid rewrites what was printed, which encoding never produces.
/// </summary>
internal sealed class ByteFallbackDecoder : IDecoderStep
{
    public List<string> Apply(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var run = new List<byte>();
        foreach (var token in tokens)
        {
            int value = SentencePieceBpeSegmenter.ParseBytePiece(token);
            if (value >= 0)
            {
                run.Add((byte)value);
                continue;
            }
            Flush(run, output, atEnd: false);
            output.Add(token);
        }
        Flush(run, output, atEnd: true);
        return output;
    }

    private static void Flush(List<byte> run, List<string> output, bool atEnd)
    {
        if (run.Count == 0) return;
        var bytes = CollectionsMarshal.AsSpan(run);
        if (atEnd) bytes = bytes[..^Utf8Text.IncompleteTailLength(bytes)];
        if (bytes.Length > 0)
            output.Add(System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : new string('\uFFFD', bytes.Length));
        run.Clear();
    }
}

/// <summary>"Fuse": all tokens into one string, so that later steps (Strip) see the whole text.</summary>
internal sealed class FuseDecoder : IDecoderStep
{
    public List<string> Apply(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>
/// "Strip": removes up to <paramref name="start"/> leading and <paramref name="stop"/> trailing copies of one
/// character from each token (Llama-2's fast decoder strips the dummy-prefix space after fusing).
/// </summary>
internal sealed class StripDecoder(string content, int start, int stop) : IDecoderStep
{
    public List<string> Apply(List<string> tokens) => tokens.ConvertAll(Strip);

    private string Strip(string token)
    {
        int from = 0, to = token.Length;
        for (int i = 0; i < start && token.AsSpan(from, to - from).StartsWith(content, StringComparison.Ordinal); i++) from += content.Length;
        // The two cuts never cross: a token made only of the character loses it from the front first.
        for (int i = 0; i < stop && token.AsSpan(from, to - from).EndsWith(content, StringComparison.Ordinal); i++) to -= content.Length;
        return token[from..to];
    }
}

/// <summary>
/// "Metaspace" decoder: the replacement character becomes a space, except in the first token, where it is dropped
/// unless prepend_scheme is "never" (it stands for the space the pre-tokenizer put before the text).
/// </summary>
internal sealed class MetaspaceDecoder(string replacement, PrependScheme prependScheme) : IDecoderStep
{
    public List<string> Apply(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            bool drop = i == 0 && prependScheme != PrependScheme.Never;
            output.Add(tokens[i].Replace(replacement, drop ? "" : " ", StringComparison.Ordinal));
        }
        return output;
    }
}
