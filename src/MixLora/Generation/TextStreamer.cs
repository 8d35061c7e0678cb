using MixLora.Tokenization;

namespace MixLora.Generation;

/// <summary>
/// Turns a growing list of generated ids into text increments. It decodes the whole list each time and emits the new
/// suffix, holding back text that ends in an incomplete UTF-8 sequence (U+FFFD) until the next token completes it.
/// </summary>
public sealed class TextStreamer
{
    private readonly ITextTokenizer _tokenizer;
    private readonly List<int> _ids = [];
    private string _emitted = "";

    public TextStreamer(ITextTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Adds a token and returns the text that became final ("" if none).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var text = _tokenizer.Decode(_ids);
        if (text.EndsWith('\uFFFD') || !text.StartsWith(_emitted, StringComparison.Ordinal)) return "";
        var delta = text[_emitted.Length..];
        _emitted = text;
        return delta;
    }

    /// <summary>The text of all tokens pushed so far.</summary>
    public string Text => _tokenizer.Decode(_ids);
}
