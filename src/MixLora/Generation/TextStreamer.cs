using MixLora.Tokenization;

namespace MixLora.Generation;

/// <summary>
/// Turns a growing list of generated ids into text increments. It decodes prompt + generated ids each time and emits
/// what follows the decoded prompt (decoding the new ids alone would drop a word-initial space, as SentencePiece strips
/// the first piece's), holding back text that ends in an incomplete UTF-8 sequence (U+FFFD) until it is complete.
/// </summary>
public sealed class TextStreamer
{
    private readonly ITextTokenizer _tokenizer;
    private readonly List<int> _ids;
    private readonly int _promptCount;
    private readonly string _promptText;
    private string _emitted = "";

    public TextStreamer(ITextTokenizer tokenizer, IReadOnlyList<int>? promptIds = null)
    {
        _tokenizer = tokenizer;
        _ids = [.. promptIds ?? []];
        _promptCount = _ids.Count;
        _promptText = tokenizer.Decode(_ids);
    }

    /// <summary>Adds a token and returns the text that became final ("" if none).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var text = Text;
        if (text.EndsWith('\uFFFD') || !text.StartsWith(_emitted, StringComparison.Ordinal)) return "";
        var delta = text[_emitted.Length..];
        _emitted = text;
        return delta;
    }

    /// <summary>The text of all generated tokens so far (as it reads after the prompt).</summary>
    public string Text
    {
        get
        {
            var all = _tokenizer.Decode(_ids);
            if (_promptCount == 0) return all;
            return all.StartsWith(_promptText, StringComparison.Ordinal) ? all[_promptText.Length..] : _tokenizer.Decode(_ids.Skip(_promptCount));
        }
    }
}
