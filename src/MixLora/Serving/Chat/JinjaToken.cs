namespace MixLora.Serving;

internal enum JinjaTokenKind
{
    /// <summary>Literal template text between tags (after whitespace control).</summary>
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One token of a template. <see cref="Value"/> is the text, or the decoded value of a string literal.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Position, long Integer = 0, double Float = 0)
{
    public bool IsOperator(string op) => Kind == JinjaTokenKind.Operator && Value == op;

    public bool IsName(string name) => Kind == JinjaTokenKind.Name && Value == name;

    /// <summary>How an error message names this token.</summary>
    public string Describe() => Kind switch
    {
        JinjaTokenKind.End => "end of template",
        JinjaTokenKind.BlockEnd => "end of statement block",
        JinjaTokenKind.VariableEnd => "end of print statement",
        JinjaTokenKind.BlockBegin => "begin of statement block",
        JinjaTokenKind.VariableBegin => "begin of print statement",
        JinjaTokenKind.Text => "template text",
        JinjaTokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}
