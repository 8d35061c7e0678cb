namespace MixLora.Tokenization;

/// <summary>A stretch of input text: plain text to tokenize (TokenId &lt; 0) or an added token's id.</summary>
internal readonly record struct TextSegment(int Start, int Length, int TokenId)
{
    public bool IsToken => TokenId >= 0;
}

/// <summary>Encodes one stretch of plain text into <paramref name="output"/>; <paramref name="atStart"/>: it begins the input.</summary>
internal delegate void PlainTextEncoder(string text, bool atStart, List<int> output);

/// <summary>
/// Finds added tokens (special or not) in raw text before any normalization or pre-tokenization, leftmost
/// first and longest first at each position, honouring the lstrip / rstrip / single_word options.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly LongestMatchTable _table;
    private readonly Dictionary<string, AddedTokenSpec> _byContent;

    public AddedTokenSplitter(IEnumerable<AddedTokenSpec> tokens)
    {
        _byContent = new Dictionary<string, AddedTokenSpec>(StringComparer.Ordinal);
        foreach (var token in tokens) _byContent[token.Content] = token;
        _table = new LongestMatchTable(_byContent.Keys);
    }

    /// <summary>
    /// The encoding skeleton both tokenizers share: lone surrogates replaced, <paramref name="bosId"/> first when given,
    /// added tokens matched in the raw text, and every stretch between them handed to <paramref name="encodePlain"/>.
    /// </summary>
    public List<int> Encode(string text, int? bosId, PlainTextEncoder encodePlain)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = Utf8Text.ReplaceLoneSurrogates(text);
        var ids = new List<int>();
        if (bosId is int bos) ids.Add(bos);
        foreach (var segment in Split(text))
        {
            if (segment.IsToken) ids.Add(segment.TokenId);
            else encodePlain(text.Substring(segment.Start, segment.Length), segment.Start == 0, ids);
        }
        return ids;
    }

    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        int textStart = 0;   // start of the pending plain-text stretch
        for (int position = 0; position < text.Length && !_table.IsEmpty; position++)
        {
            var content = _table.Match(text, position);
            if (content == null) continue;
            var token = _byContent[content];
            int start = position, end = position + content.Length;
            if (token.SingleWord && (IsWordChar(text, start - 1) || IsWordChar(text, end))) continue;
            if (token.LStrip) while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;

            if (start > textStart) segments.Add(new TextSegment(textStart, start - textStart, -1));
            segments.Add(new TextSegment(start, end - start, token.Id));
            textStart = end;
            position = end - 1;
        }
        if (textStart < text.Length) segments.Add(new TextSegment(textStart, text.Length - textStart, -1));
        return segments;
    }

    private static bool IsWordChar(string text, int index) =>
        index >= 0 && index < text.Length && (char.IsLetterOrDigit(text[index]) || text[index] == '_');
}
