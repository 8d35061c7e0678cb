namespace MixLora.Serving;

// The syntax tree of a template. Pos is the character position in JinjaSource.Text, for error messages.

internal abstract record JinjaExpr(int Pos);

internal sealed record LiteralExpr(int Pos, object? Value) : JinjaExpr(Pos);

internal sealed record NameExpr(int Pos, string Name) : JinjaExpr(Pos);

internal sealed record ListExpr(int Pos, IReadOnlyList<JinjaExpr> Items, bool IsTuple) : JinjaExpr(Pos);

internal sealed record DictExpr(int Pos, IReadOnlyList<(JinjaExpr Key, JinjaExpr Value)> Items) : JinjaExpr(Pos);

internal sealed record AttributeExpr(int Pos, JinjaExpr Target, string Name) : JinjaExpr(Pos);

internal sealed record ItemExpr(int Pos, JinjaExpr Target, JinjaExpr Index) : JinjaExpr(Pos);

/// <summary>Only as the index of an <see cref="ItemExpr"/>: <c>a[start:stop:step]</c>.</summary>
internal sealed record SliceExpr(int Pos, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step) : JinjaExpr(Pos);

internal sealed record CallArguments(IReadOnlyList<JinjaExpr> Positional, IReadOnlyList<(string Name, JinjaExpr Value)> Named, JinjaExpr? Star, JinjaExpr? DoubleStar)
{
    public static CallArguments None { get; } = new([], [], null, null);
}

internal sealed record CallExpr(int Pos, JinjaExpr Target, CallArguments Arguments) : JinjaExpr(Pos);

/// <summary><c>input | name(args)</c>; <see cref="Input"/> is null inside a <c>{% filter %}</c> block, where the body is the input.</summary>
internal sealed record FilterExpr(int Pos, JinjaExpr? Input, string Name, CallArguments Arguments) : JinjaExpr(Pos);

internal sealed record TestExpr(int Pos, JinjaExpr Input, string Name, CallArguments Arguments, bool Negated) : JinjaExpr(Pos);

/// <summary>Operators "not", "-" and "+".</summary>
internal sealed record UnaryExpr(int Pos, string Operator, JinjaExpr Operand) : JinjaExpr(Pos);

/// <summary>Operators + - * / // % ** ~ and or.</summary>
internal sealed record BinaryExpr(int Pos, string Operator, JinjaExpr Left, JinjaExpr Right) : JinjaExpr(Pos);

/// <summary>A comparison chain <c>a &lt; b == c</c>; operators == != &lt; &lt;= &gt; &gt;= in "not in".</summary>
internal sealed record CompareExpr(int Pos, JinjaExpr First, IReadOnlyList<(string Operator, JinjaExpr Operand)> Rest) : JinjaExpr(Pos);

/// <summary><c>then if test else otherwise</c>; without else the value is undefined when the test is false.</summary>
internal sealed record ConditionalExpr(int Pos, JinjaExpr Test, JinjaExpr Then, JinjaExpr? Otherwise) : JinjaExpr(Pos);

/// <summary>What a <c>set</c>, <c>for</c> or <c>with</c> assigns to.</summary>
internal abstract record JinjaTarget(int Pos);

internal sealed record NameTarget(int Pos, string Name) : JinjaTarget(Pos);

internal sealed record TupleTarget(int Pos, IReadOnlyList<string> Names) : JinjaTarget(Pos);

/// <summary><c>ns.attr</c>: an attribute of a <c>namespace()</c> object.</summary>
internal sealed record NamespaceTarget(int Pos, string Namespace, string Attribute) : JinjaTarget(Pos);

internal abstract record JinjaNode(int Pos);

internal sealed record TextNode(int Pos, string Text) : JinjaNode(Pos);

internal sealed record OutputNode(int Pos, JinjaExpr Value) : JinjaNode(Pos);

internal sealed record IfNode(int Pos, IReadOnlyList<(JinjaExpr Test, IReadOnlyList<JinjaNode> Body)> Branches, IReadOnlyList<JinjaNode>? Else) : JinjaNode(Pos);

internal sealed record ForNode(
    int Pos, JinjaTarget Target, JinjaExpr Iterable, JinjaExpr? Filter, IReadOnlyList<JinjaNode> Body, IReadOnlyList<JinjaNode>? Else) : JinjaNode(Pos);

internal sealed record SetNode(int Pos, JinjaTarget Target, JinjaExpr Value) : JinjaNode(Pos);

/// <summary><c>{% set name %}body{% endset %}</c>, optionally with filters applied to the rendered body.</summary>
internal sealed record SetBlockNode(int Pos, JinjaTarget Target, IReadOnlyList<JinjaNode> Body, IReadOnlyList<FilterExpr> Filters) : JinjaNode(Pos);

internal sealed record BreakNode(int Pos) : JinjaNode(Pos);

internal sealed record ContinueNode(int Pos) : JinjaNode(Pos);

internal sealed record MacroNode(int Pos, string Name, IReadOnlyList<(string Name, JinjaExpr? Default)> Parameters, IReadOnlyList<JinjaNode> Body) : JinjaNode(Pos);

internal sealed record FilterBlockNode(int Pos, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<JinjaNode> Body) : JinjaNode(Pos);

internal sealed record WithNode(int Pos, IReadOnlyList<(JinjaTarget Target, JinjaExpr Value)> Assignments, IReadOnlyList<JinjaNode> Body) : JinjaNode(Pos);

/// <summary>
/// transformers' <c>{% generation %}…{% endgeneration %}</c> marks the assistant's tokens for training masks;
/// for rendering it is its body.
/// </summary>
internal sealed record GenerationNode(int Pos, IReadOnlyList<JinjaNode> Body) : JinjaNode(Pos);
