using System.Text;
using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>
/// A tokenizer.json "Replace" (used both as a normalizer and as a decoder): every match of a literal string or a
/// regex, leftmost first and not overlapping, becomes <c>content</c>. SentencePiece-style files use it to turn
/// ' ' into '▁' when encoding and back when decoding.
/// </summary>
internal sealed class TextReplacer
{
    private readonly string? _literal;
    private readonly RegexSplitter? _regex;
    private readonly string _content;

    private TextReplacer(string? literal, RegexSplitter? regex, string content) => (_literal, _regex, _content) = (literal, regex, content);

    /// <summary>Reads <c>{"type": "Replace", "pattern": {"String": …} or {"Regex": …}, "content": …}</c>.</summary>
    public static TextReplacer Read(JsonElement node, string path, string where)
    {
        var pattern = Required(node, "pattern", path, where);
        string content = RequiredString(node, "content", path, where);
        if (Optional(pattern, "String") is { ValueKind: JsonValueKind.String } literal)
            return new TextReplacer(literal.GetString()!, null, content);
        if (Optional(pattern, "Regex") is { ValueKind: JsonValueKind.String } regex)
            return new TextReplacer(null, RegexSplitter.FromPattern(regex.GetString()!, path, where + ".pattern"), content);
        throw new InvalidFileException(path, $"'{where}.pattern' must be {{\"String\": …}} or {{\"Regex\": …}}");
    }

    public string Apply(string text)
    {
        if (_literal != null)
        {
            // An empty pattern matches nothing in tokenizers.
            return _literal.Length == 0 ? text : text.Replace(_literal, _content, StringComparison.Ordinal);
        }
        var parts = _regex!.Split(text);
        if (!parts.Exists(p => p.IsMatch)) return text;
        var output = new StringBuilder(text.Length);
        foreach (var part in parts)
        {
            if (part.IsMatch) output.Append(_content);
            else output.Append(text, part.Start, part.End - part.Start);
        }
        return output.ToString();
    }
}
