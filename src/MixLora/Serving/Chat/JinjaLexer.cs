using System.Globalization;
using System.Text;

namespace MixLora.Serving;

/// <summary>
/// Splits a template into text and tag tokens with the environment Hugging Face uses for chat templates
/// (<c>trim_blocks=True</c>, <c>lstrip_blocks=True</c>):
/// <list type="bullet">
/// <item><c>{%-</c>, <c>{{-</c>, <c>{#-</c> remove all whitespace before the tag; <c>-%}</c>, <c>-}}</c>, <c>-#}</c> all whitespace after it.</item>
/// <item>trim_blocks: the first newline after a block or comment tag (<c>%}</c>, <c>#}</c>) is removed (not after <c>+%}</c>).</item>
/// <item>lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are removed (not for <c>{%+</c>, never for <c>{{</c>).</item>
/// </list>
/// Inside brackets the closing markers <c>}}</c> and <c>%}</c> are operators, as in Jinja.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"];

    private readonly string _text;
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;

    private JinjaLexer(JinjaSource source) => _text = source.Text;

    public static List<JinjaToken> Tokenize(JinjaSource source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        bool lineStarting = true;
        while (_pos < _text.Length)
        {
            int start = FindTagStart(_pos);
            if (start < 0)
            {
                AddText(_text[_pos..], _pos);
                break;
            }
            char kind = _text[start + 1];
            char sign = start + 2 < _text.Length && _text[start + 2] is '-' or '+' ? _text[start + 2] : '\0';
            var text = _text[_pos..start];
            if (sign == '-')
            {
                text = text.TrimEnd();
            }
            else if (sign != '+' && kind != '{')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsBlank(text, lineStart)) text = text[..lineStart];
            }
            AddText(text, _pos);
            _pos = start + 2 + (sign == '\0' ? 0 : 1);
            switch (kind)
            {
                case '#': SkipComment(start); break;
                case '%' when TryRaw(start): break;
                case '%': LexTag(start, JinjaTokenKind.BlockBegin, JinjaTokenKind.BlockEnd, '%'); break;
                default: LexTag(start, JinjaTokenKind.VariableBegin, JinjaTokenKind.VariableEnd, '}'); break;
            }
            lineStarting = _pos > 0 && _text[_pos - 1] == '\n';
        }
        _tokens.Add(new JinjaToken(JinjaTokenKind.End, "", _text.Length));
    }

    private int FindTagStart(int from)
    {
        for (int i = _text.IndexOf('{', from); i >= 0 && i + 1 < _text.Length; i = _text.IndexOf('{', i + 1))
        {
            if (_text[i + 1] is '{' or '%' or '#') return i;
        }
        return -1;
    }

    private static bool IsBlank(string text, int from)
    {
        for (int i = from; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i])) return false;
        }
        return true;
    }

    private void AddText(string text, int position)
    {
        if (text.Length > 0) _tokens.Add(new JinjaToken(JinjaTokenKind.Text, text, position));
    }

    /// <summary>After a tag's closing marker: "-" strips all following whitespace, "+" nothing, else one newline for blocks and comments.</summary>
    private void AfterTagEnd(char endSign, bool trimNewline)
    {
        if (endSign == '-')
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos])) _pos++;
        }
        else if (endSign != '+' && trimNewline && _pos < _text.Length && _text[_pos] == '\n')
        {
            _pos++;
        }
    }

    private void SkipComment(int start)
    {
        int end = _text.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw JinjaError.Syntax("missing end of comment tag", start);
        char endSign = end > _pos && _text[end - 1] is '-' or '+' ? _text[end - 1] : '\0';
        _pos = end + 2;
        AfterTagEnd(endSign, trimNewline: true);
    }

    /// <summary><c>{% raw %}…{% endraw %}</c>: the content is text, with the tags' whitespace control applied.</summary>
    private bool TryRaw(int start)
    {
        int i = SkipSpaces(_pos);
        if (string.CompareOrdinal(_text, i, "raw", 0, 3) != 0) return false;
        i = SkipSpaces(i + 3);
        char openEndSign = i < _text.Length && _text[i] is '-' or '+' ? _text[i] : '\0';
        if (openEndSign != '\0') i++;
        if (string.CompareOrdinal(_text, i, "%}", 0, 2) != 0) return false;
        _pos = i + 2;
        // Jinja's raw-begin marker strips after "-%}" but trim_blocks does not apply to it.
        AfterTagEnd(openEndSign, trimNewline: false);
        for (int search = _pos; ; search++)
        {
            search = _text.IndexOf("{%", search, StringComparison.Ordinal);
            if (search < 0) throw JinjaError.Syntax("missing end of raw directive", start);
            int j = search + 2;
            char closeSign = j < _text.Length && _text[j] is '-' or '+' ? _text[j] : '\0';
            if (closeSign != '\0') j++;
            j = SkipSpaces(j);
            if (string.CompareOrdinal(_text, j, "endraw", 0, 6) != 0) continue;
            j = SkipSpaces(j + 6);
            char endSign = j < _text.Length && _text[j] is '-' or '+' ? _text[j] : '\0';
            if (endSign != '\0') j++;
            if (string.CompareOrdinal(_text, j, "%}", 0, 2) != 0) continue;
            var content = _text[_pos..search];
            if (closeSign == '-')
            {
                content = content.TrimEnd();
            }
            else if (closeSign != '+')
            {
                int lineStart = content.LastIndexOf('\n') + 1;
                bool atLineStart = lineStart > 0 || (_pos > 0 && _text[_pos - 1] == '\n');
                if (atLineStart && lineStart < content.Length && IsBlank(content, lineStart)) content = content[..lineStart];
            }
            AddText(content, _pos);
            _pos = j + 2;
            AfterTagEnd(endSign, trimNewline: true);
            return true;
        }
    }

    private int SkipSpaces(int i)
    {
        while (i < _text.Length && char.IsWhiteSpace(_text[i])) i++;
        return i;
    }

    private void LexTag(int start, JinjaTokenKind begin, JinjaTokenKind end, char closer)
    {
        _tokens.Add(new JinjaToken(begin, begin == JinjaTokenKind.BlockBegin ? "{%" : "{{", start));
        var brackets = new Stack<char>();
        while (true)
        {
            _pos = SkipSpaces(_pos);
            if (_pos >= _text.Length)
            {
                string what = begin == JinjaTokenKind.BlockBegin ? "statement block" : "print statement";
                throw JinjaError.Syntax($"unexpected end of template, the {what} opened here is not closed", start);
            }
            if (brackets.Count == 0 && TryTagEnd(closer, end)) return;
            char c = _text[_pos];
            if (c is '"' or '\'') LexString();
            else if (char.IsAsciiDigit(c)) LexNumber();
            else if (char.IsLetter(c) || c == '_') LexName();
            else LexOperator(brackets);
        }
    }

    private bool TryTagEnd(char closer, JinjaTokenKind end)
    {
        int at = _pos;
        char sign = _text[at] is '-' or '+' ? _text[at] : '\0';
        if (sign != '\0') at++;
        if (at + 1 >= _text.Length || _text[at] != closer || _text[at + 1] != '}') return false;
        // "+}}" is not a marker in Jinja; "+%}" is.
        if (sign == '+' && closer == '}') return false;
        _tokens.Add(new JinjaToken(end, closer + "}", _pos));
        _pos = at + 2;
        AfterTagEnd(sign, trimNewline: end == JinjaTokenKind.BlockEnd);
        return true;
    }

    private void LexName()
    {
        int start = _pos;
        while (_pos < _text.Length && (char.IsLetterOrDigit(_text[_pos]) || _text[_pos] == '_')) _pos++;
        _tokens.Add(new JinjaToken(JinjaTokenKind.Name, _text[start.._pos], start));
    }

    private void LexNumber()
    {
        int start = _pos;
        if (_text[_pos] == '0' && _pos + 1 < _text.Length && char.ToLowerInvariant(_text[_pos + 1]) is 'x' or 'o' or 'b')
        {
            int radix = char.ToLowerInvariant(_text[_pos + 1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            _pos += 2;
            int digitsStart = _pos;
            while (_pos < _text.Length && (char.IsAsciiHexDigit(_text[_pos]) || _text[_pos] == '_')) _pos++;
            var digits = _text[digitsStart.._pos].Replace("_", "");
            try
            {
                long value = Convert.ToInt64(digits, radix);
                _tokens.Add(new JinjaToken(JinjaTokenKind.Integer, _text[start.._pos], start, Integer: value));
                return;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw JinjaError.Syntax($"invalid number literal '{_text[start.._pos]}'", start);
            }
        }
        SkipDigits();
        bool isFloat = false;
        // "(?<!\.)": after a dot (messages.0.role) a number is an integer attribute, never a float.
        bool afterDot = start > 0 && _text[start - 1] == '.';
        if (!afterDot && _pos + 1 < _text.Length && _text[_pos] == '.' && char.IsAsciiDigit(_text[_pos + 1]))
        {
            _pos++;
            SkipDigits();
            isFloat = true;
        }
        if (!afterDot && _pos < _text.Length && _text[_pos] is 'e' or 'E')
        {
            int mark = _pos++;
            if (_pos < _text.Length && _text[_pos] is '+' or '-') _pos++;
            if (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                SkipDigits();
                isFloat = true;
            }
            else
            {
                _pos = mark;
            }
        }
        var literal = _text[start.._pos].Replace("_", "");
        if (isFloat)
        {
            _tokens.Add(new JinjaToken(JinjaTokenKind.Float, literal, start, Float: double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }
        else if (long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            _tokens.Add(new JinjaToken(JinjaTokenKind.Integer, literal, start, Integer: value));
        }
        else
        {
            throw JinjaError.Syntax($"integer literal '{literal}' is too large", start);
        }
    }

    private void SkipDigits()
    {
        while (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || (_text[_pos] == '_' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1])))) _pos++;
    }

    private void LexOperator(Stack<char> brackets)
    {
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_text, _pos, op, 0, op.Length) != 0) continue;
            switch (op)
            {
                case "(": brackets.Push(')'); break;
                case "[": brackets.Push(']'); break;
                case "{": brackets.Push('}'); break;
                case ")" or "]" or "}":
                    if (brackets.Count == 0) throw JinjaError.Syntax($"unexpected '{op}'", _pos);
                    char expected = brackets.Pop();
                    if (expected != op[0]) throw JinjaError.Syntax($"unexpected '{op}', expected '{expected}'", _pos);
                    break;
            }
            _tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, _pos));
            _pos += op.Length;
            return;
        }
        throw JinjaError.Syntax($"unexpected character '{_text[_pos]}'", _pos);
    }

    /// <summary>A quoted string with Python's escape sequences (Jinja decodes literals with "unicode-escape").</summary>
    private void LexString()
    {
        int start = _pos;
        char quote = _text[_pos++];
        var value = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length) throw JinjaError.Syntax("unterminated string literal", start);
            char c = _text[_pos++];
            if (c == quote) break;
            if (c != '\\')
            {
                value.Append(c);
                continue;
            }
            if (_pos >= _text.Length) throw JinjaError.Syntax("unterminated string literal", start);
            char e = _text[_pos++];
            switch (e)
            {
                case '\n': break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'n': value.Append('\n'); break;
                case 'r': value.Append('\r'); break;
                case 't': value.Append('\t'); break;
                case 'v': value.Append('\v'); break;
                case 'x': AppendCodePoint(value, ReadHex(2, start)); break;
                case 'u': AppendCodePoint(value, ReadHex(4, start)); break;
                case 'U': AppendCodePoint(value, ReadHex(8, start)); break;
                case >= '0' and <= '7':
                    int octal = e - '0';
                    for (int k = 0; k < 2 && _pos < _text.Length && _text[_pos] is >= '0' and <= '7'; k++) octal = octal * 8 + (_text[_pos++] - '0');
                    AppendCodePoint(value, octal);
                    break;
                default:
                    // Python keeps unknown escapes such as "\d" as they are.
                    value.Append('\\').Append(e);
                    break;
            }
        }
        _tokens.Add(new JinjaToken(JinjaTokenKind.String, value.ToString(), start));
    }

    private int ReadHex(int digits, int stringStart)
    {
        if (_pos + digits > _text.Length || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
            throw JinjaError.Syntax($"truncated \\{(digits == 2 ? "x" : digits == 4 ? "u" : "U")} escape in a string literal", stringStart);
        _pos += digits;
        return code;
    }

    private static void AppendCodePoint(StringBuilder value, int code)
    {
        if (code is < 0 or > 0x10FFFF) throw JinjaError.Render($"escape \\U{code:x8} is not a valid code point");
        if (code is >= 0xD800 and <= 0xDFFF) value.Append((char)code);
        else value.Append(char.ConvertFromUtf32(code));
    }
}
