using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// SentencePiece's text normalizer for the "identity" rule: optional removal of extra spaces, the dummy prefix
/// space, and escaping ' ' as U+2581. User-defined symbols pass through unchanged as single units.
/// </summary>
internal sealed class SentencePieceNormalizer
{
    public const char SpaceSymbol = '\u2581';

    private readonly bool _addDummyPrefix, _removeExtraWhitespaces, _escapeWhitespaces, _whitespaceAsSuffix;
    private readonly LongestMatchTable _userDefined;

    public SentencePieceNormalizer(SentencePieceModelFile model, LongestMatchTable userDefined)
    {
        // Only the identity rule is implemented; other rules (nmt_nfkc, …) live in a compiled character map.
        if (model.PrecompiledCharsMapLength > 0)
            throw new MixLoraException(
                $"{model.FilePath}: SentencePiece normalizer '{model.NormalizerName}' uses a precompiled character map, " +
                "which is not supported (only the 'identity' normalizer is)");
        _addDummyPrefix = model.AddDummyPrefix;
        _removeExtraWhitespaces = model.RemoveExtraWhitespaces;
        _escapeWhitespaces = model.EscapeWhitespaces;
        _whitespaceAsSuffix = model.TreatWhitespaceAsSuffix;
        _userDefined = userDefined;
    }

    public string Normalize(string input)
    {
        if (input.Length == 0) return "";
        int position = 0;

        // Leading spaces are dropped entirely when removing extra whitespace; nothing left means no dummy prefix.
        if (_removeExtraWhitespaces)
        {
            while (position < input.Length && input[position] == ' ') position++;
            if (position == input.Length) return "";
        }

        var output = new StringBuilder(input.Length + 8);
        if (!_whitespaceAsSuffix && _addDummyPrefix) AppendSpace(output);

        bool previousEndsWithSpace = _removeExtraWhitespaces;
        while (position < input.Length)
        {
            int length = UnitLength(input, position);
            var unit = input.AsSpan(position, length);
            position += length;

            // A run of spaces after a space collapses into the first one.
            while (previousEndsWithSpace && unit.Length > 0 && unit[0] == ' ') unit = unit[1..];
            if (unit.Length == 0) continue;
            foreach (char c in unit)
            {
                if (c == ' ' && _escapeWhitespaces) output.Append(SpaceSymbol);
                else output.Append(c);
            }
            previousEndsWithSpace = _removeExtraWhitespaces && unit[^1] == ' ';
        }

        if (_removeExtraWhitespaces)
        {
            char space = _escapeWhitespaces ? SpaceSymbol : ' ';
            int end = output.Length;
            while (end > 0 && output[end - 1] == space) end--;
            output.Length = end;
        }
        if (_whitespaceAsSuffix && _addDummyPrefix) AppendSpace(output);
        return output.ToString();
    }

    private void AppendSpace(StringBuilder output) => output.Append(_escapeWhitespaces ? SpaceSymbol : ' ');

    /// <summary>A user-defined symbol starting here, else one code point (1 or 2 UTF-16 units).</summary>
    private int UnitLength(string text, int position)
    {
        var symbol = _userDefined.Match(text, position);
        if (symbol != null) return symbol.Length;
        return char.IsHighSurrogate(text[position]) && position + 1 < text.Length ? 2 : 1;
    }
}
