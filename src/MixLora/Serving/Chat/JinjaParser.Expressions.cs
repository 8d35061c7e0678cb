namespace MixLora.Serving;

/// <summary>
/// Expressions, with Jinja's precedence from loosest to tightest: conditional <c>a if c else b</c>, or, and, not,
/// comparisons (== != &lt; &lt;= &gt; &gt;= in, not in), + -, ~, * / // %, **, unary - +, then postfix
/// (<c>.attr</c>, <c>[index]</c>, <c>[a:b:c]</c>, calls) and filters/tests (<c>| name</c>, <c>is name</c>).
/// </summary>
internal sealed partial class JinjaParser
{
    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];

    /// <summary>One expression, or a tuple when expressions are separated by commas.</summary>
    private JinjaExpr ParseTuple(bool withCondExpr, bool explicitParens = false, string[]? extraEndNames = null)
    {
        var start = Current;
        var items = new List<JinjaExpr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipOperator(",")) break;
                isTuple = true;
            }
            if (IsTupleEnd(extraEndNames)) break;
            items.Add(ParseExpression(withCondExpr));
        }
        if (!isTuple)
        {
            if (items.Count == 1) return items[0];
            if (!explicitParens) throw Error($"expected an expression, got {Current.Describe()}", Current);
        }
        return new ListExpr(start.Position, items, IsTuple: true);
    }

    private bool IsTupleEnd(string[]? extraEndNames) =>
        Current.Kind is JinjaTokenKind.VariableEnd or JinjaTokenKind.BlockEnd or JinjaTokenKind.End
        || Current.IsOperator(")")
        || (extraEndNames is not null && Current.Kind == JinjaTokenKind.Name && extraEndNames.Contains(Current.Value));

    private JinjaExpr ParseExpression(bool withCondExpr) => withCondExpr ? ParseConditional() : ParseOr();

    private JinjaExpr ParseConditional()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var at = Next();
            var test = ParseOr();
            JinjaExpr? otherwise = SkipName("else") ? ParseConditional() : null;
            expr = new ConditionalExpr(at.Position, test, expr, otherwise);
        }
        return expr;
    }

    private JinjaExpr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var at = Next();
            left = new BinaryExpr(at.Position, "or", left, ParseAnd());
        }
        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var at = Next();
            left = new BinaryExpr(at.Position, "and", left, ParseNot());
        }
        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        var at = Next();
        return new UnaryExpr(at.Position, "not", ParseNot());
    }

    private JinjaExpr ParseCompare()
    {
        var start = Current;
        var first = ParseMath1();
        var rest = new List<(string, JinjaExpr)>();
        while (true)
        {
            if (Current.Kind == JinjaTokenKind.Operator && CompareOperators.Contains(Current.Value))
            {
                string op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (SkipName("in"))
            {
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && PeekAt(1).IsName("in"))
            {
                Next();
                Next();
                rest.Add(("not in", ParseMath1()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new CompareExpr(start.Position, first, rest);
    }

    private JinjaExpr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Position, op.Value, left, ParseConcat());
        }
        return left;
    }

    private JinjaExpr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpr(op.Position, "~", left, ParseMath2());
        }
        return left;
    }

    private JinjaExpr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Position, op.Value, left, ParsePow());
        }
        return left;
    }

    private JinjaExpr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpr(op.Position, "**", left, ParseUnary(withFilter: true));
        }
        return left;
    }

    private JinjaExpr ParseUnary(bool withFilter)
    {
        JinjaExpr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Position, op.Value, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilter ? ParseFilterAndTests(node) : node;
    }

    private JinjaExpr ParsePrimary()
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        var token = Current;
        switch (token.Kind)
        {
            case JinjaTokenKind.Name:
                Next();
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(token.Position, true),
                    "false" or "False" => new LiteralExpr(token.Position, false),
                    "none" or "None" => new LiteralExpr(token.Position, null),
                    _ => new NameExpr(token.Position, token.Value),
                };
            case JinjaTokenKind.String:
                var text = Next().Value;
                while (Current.Kind == JinjaTokenKind.String) text += Next().Value;
                return new LiteralExpr(token.Position, text);
            case JinjaTokenKind.Integer:
                Next();
                return new LiteralExpr(token.Position, token.Integer);
            case JinjaTokenKind.Float:
                Next();
                return new LiteralExpr(token.Position, token.Float);
            case JinjaTokenKind.Operator when token.Value == "(":
                Next();
                var inner = ParseTuple(withCondExpr: true, explicitParens: true);
                ExpectOperator(")");
                return inner;
            case JinjaTokenKind.Operator when token.Value == "[":
                Next();
                var items = new List<JinjaExpr>();
                while (!SkipOperator("]"))
                {
                    if (items.Count > 0) ExpectOperator(",");
                    if (SkipOperator("]")) break;
                    items.Add(ParseExpression(withCondExpr: true));
                }
                return new ListExpr(token.Position, items, IsTuple: false);
            case JinjaTokenKind.Operator when token.Value == "{":
                Next();
                var pairs = new List<(JinjaExpr, JinjaExpr)>();
                while (!SkipOperator("}"))
                {
                    if (pairs.Count > 0) ExpectOperator(",");
                    if (SkipOperator("}")) break;
                    var key = ParseExpression(withCondExpr: true);
                    ExpectOperator(":");
                    pairs.Add((key, ParseExpression(withCondExpr: true)));
                }
                return new DictExpr(token.Position, pairs);
            default:
                throw Error($"unexpected {token.Describe()}", token);
        }
    }

    private JinjaExpr ParsePostfix(JinjaExpr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Next();
                var attribute = Next();
                node = attribute.Kind switch
                {
                    JinjaTokenKind.Name => new AttributeExpr(token.Position, node, attribute.Value),
                    JinjaTokenKind.Integer => new ItemExpr(token.Position, node, new LiteralExpr(attribute.Position, attribute.Integer)),
                    _ => throw Error($"expected a name after '.', got {attribute.Describe()}", attribute),
                };
            }
            else if (token.IsOperator("["))
            {
                Next();
                var indexes = new List<JinjaExpr>();
                while (!SkipOperator("]"))
                {
                    if (indexes.Count > 0) ExpectOperator(",");
                    if (SkipOperator("]")) break;
                    indexes.Add(ParseSubscript());
                }
                if (indexes.Count == 0) throw Error("expected an index between '[' and ']'", token);
                var index = indexes.Count == 1 ? indexes[0] : new ListExpr(token.Position, indexes, IsTuple: true);
                node = new ItemExpr(token.Position, node, index);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(node.Pos, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseSubscript()
    {
        var start = Current;
        JinjaExpr? first = null;
        if (!Current.IsOperator(":"))
        {
            first = ParseExpression(withCondExpr: true);
            if (!Current.IsOperator(":")) return first;
        }
        Next();
        JinjaExpr? stop = Current.IsOperator("]") || Current.IsOperator(",") || Current.IsOperator(":") ? null : ParseExpression(withCondExpr: true);
        JinjaExpr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(",")) step = ParseExpression(withCondExpr: true);
        return new SliceExpr(start.Position, first, stop, step);
    }

    private CallArguments ParseCallArguments()
    {
        ExpectOperator("(");
        var positional = new List<JinjaExpr>();
        var named = new List<(string, JinjaExpr)>();
        JinjaExpr? star = null, doubleStar = null;
        bool first = true;
        while (!SkipOperator(")"))
        {
            if (!first) ExpectOperator(",");
            first = false;
            if (SkipOperator(")")) break;
            var token = Current;
            if (SkipOperator("**"))
            {
                doubleStar = ParseExpression(withCondExpr: true);
            }
            else if (SkipOperator("*"))
            {
                star = ParseExpression(withCondExpr: true);
            }
            else if (token.Kind == JinjaTokenKind.Name && PeekAt(1).IsOperator("="))
            {
                Next();
                Next();
                if (named.Any(n => n.Item1 == token.Value)) throw Error($"keyword argument '{token.Value}' repeated", token);
                named.Add((token.Value, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (named.Count > 0 || doubleStar is not null) throw Error("positional argument follows keyword argument", token);
                positional.Add(ParseExpression(withCondExpr: true));
            }
        }
        return new CallArguments(positional, named, star, doubleStar);
    }

    private JinjaExpr ParseFilterAndTests(JinjaExpr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                Next();
                node = ParseFilter(node);
            }
            else if (Current.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(Current.Position, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private FilterExpr ParseFilter(JinjaExpr? input)
    {
        var token = Current;
        string name = ExpectName("a filter name");
        while (Current.IsOperator(".") && PeekAt(1).Kind == JinjaTokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }
        if (!JinjaFilters.Exists(name)) throw Error($"no filter named '{name}'", token);
        var arguments = Current.IsOperator("(") ? ParseCallArguments() : CallArguments.None;
        return new FilterExpr(token.Position, input, name, arguments);
    }

    private TestExpr ParseTest(JinjaExpr input)
    {
        var at = Next();
        bool negated = SkipName("not");
        var token = Current;
        string name = ExpectName("a test name");
        while (Current.IsOperator(".") && PeekAt(1).Kind == JinjaTokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }
        if (!JinjaTestFunctions.Exists(name)) throw Error($"no test named '{name}'", token);
        CallArguments arguments;
        if (Current.IsOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if (StartsTestArgument(Current))
        {
            // "x is divisibleby 3", "x is sameas false": one argument without parentheses.
            arguments = new CallArguments([ParsePostfix(ParsePrimary())], [], null, null);
        }
        else
        {
            arguments = CallArguments.None;
        }
        return new TestExpr(at.Position, input, name, arguments, negated);
    }

    private static bool StartsTestArgument(JinjaToken token) => token.Kind switch
    {
        JinjaTokenKind.Name => token.Value is not ("else" or "or" or "and"),
        JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float => true,
        JinjaTokenKind.Operator => token.Value is "[" or "{",
        _ => false,
    };
}
