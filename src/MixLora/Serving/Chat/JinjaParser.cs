namespace MixLora.Serving;

/// <summary>
/// Statements of the supported Jinja subset: if/elif/else, for (with <c>if</c> filter and <c>else</c>),
/// set (value, tuple, <c>ns.attr</c>, block), break/continue, macro, filter, with, and transformers' generation.
/// Expressions are parsed in JinjaParser.Expressions.cs.
/// </summary>
internal sealed partial class JinjaParser
{
    private readonly List<JinjaToken> _tokens;
    private int _index;
    private int _loopDepth;
    private readonly Stack<string> _openBlocks = new();

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static IReadOnlyList<JinjaNode> Parse(JinjaSource source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        return parser.Subparse([], out _);
    }

    private JinjaToken Current => _tokens[_index];

    private JinjaToken PeekAt(int offset) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];

    private JinjaToken Next()
    {
        var token = _tokens[_index];
        if (_index < _tokens.Count - 1) _index++;
        return token;
    }

    private static JinjaError Error(string message, JinjaToken at) => JinjaError.Syntax(message, at.Position);

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    private void ExpectOperator(string op)
    {
        if (!SkipOperator(op)) throw Error($"expected token '{op}', got {Current.Describe()}", Current);
    }

    private string ExpectName(string what)
    {
        if (Current.Kind != JinjaTokenKind.Name) throw Error($"expected {what}, got {Current.Describe()}", Current);
        return Next().Value;
    }

    private void ExpectBlockEnd()
    {
        if (Current.Kind != JinjaTokenKind.BlockEnd) throw Error($"expected token 'end of statement block', got {Current.Describe()}", Current);
        Next();
    }

    /// <summary>Nodes up to a <c>{% name %}</c> tag with a name in <paramref name="endTags"/> (the name is consumed, not the block end).</summary>
    private List<JinjaNode> Subparse(string[] endTags, out string endTag)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        var nodes = new List<JinjaNode>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case JinjaTokenKind.Text:
                    nodes.Add(new TextNode(token.Position, token.Value));
                    Next();
                    break;
                case JinjaTokenKind.VariableBegin:
                    Next();
                    if (Current.Kind == JinjaTokenKind.VariableEnd) throw Error("expected an expression, got 'end of print statement'", Current);
                    var value = ParseTuple(withCondExpr: true);
                    if (Current.Kind != JinjaTokenKind.VariableEnd) throw Error($"expected token 'end of print statement', got {Current.Describe()}", Current);
                    Next();
                    nodes.Add(new OutputNode(token.Position, value));
                    break;
                case JinjaTokenKind.BlockBegin:
                    Next();
                    var nameToken = Current;
                    if (nameToken.Kind != JinjaTokenKind.Name) throw Error($"expected a statement name after '{{%', got {nameToken.Describe()}", nameToken);
                    if (endTags.Contains(nameToken.Value))
                    {
                        Next();
                        endTag = nameToken.Value;
                        return nodes;
                    }
                    nodes.Add(ParseStatement(token));
                    break;
                case JinjaTokenKind.End:
                    if (endTags.Length > 0)
                        throw Error($"unexpected end of template, expected {Quote(endTags)}; the innermost block that needs to be closed is '{_openBlocks.Peek()}'", token);
                    endTag = "";
                    return nodes;
                default:
                    throw Error($"unexpected {token.Describe()}", token);
            }
        }
    }

    private static string Quote(string[] names) => string.Join(" or ", names.Select(n => $"'{n}'"));

    private JinjaNode ParseStatement(JinjaToken begin)
    {
        var nameToken = Next();
        switch (nameToken.Value)
        {
            case "if": return ParseIf(begin);
            case "for": return ParseFor(begin);
            case "set": return ParseSet(begin);
            case "macro": return ParseMacro(begin);
            case "filter": return ParseFilterBlock(begin);
            case "with": return ParseWith(begin);
            case "generation":
                ExpectBlockEnd();
                var generation = Body("generation", ["endgeneration"], out _);
                ExpectBlockEnd();
                return new GenerationNode(begin.Position, generation);
            case "break" or "continue":
                if (_loopDepth == 0) throw Error($"'{nameToken.Value}' outside of a for loop", nameToken);
                ExpectBlockEnd();
                return nameToken.Value == "break" ? new BreakNode(begin.Position) : new ContinueNode(begin.Position);
            case "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endfilter" or "endwith" or "endgeneration" or "endraw":
                string inner = _openBlocks.Count > 0 ? $"; the innermost block that needs to be closed is '{_openBlocks.Peek()}'" : "";
                throw Error($"unexpected '{nameToken.Value}'{inner}", nameToken);
            case "block" or "extends" or "include" or "import" or "from" or "call" or "do" or "autoescape" or "trans":
                throw Error($"the '{nameToken.Value}' statement is not supported in chat templates", nameToken);
            default:
                throw Error($"encountered unknown tag '{nameToken.Value}'", nameToken);
        }
    }

    private List<JinjaNode> Body(string block, string[] endTags, out string endTag)
    {
        _openBlocks.Push(block);
        try
        {
            return Subparse(endTags, out endTag);
        }
        finally
        {
            _openBlocks.Pop();
        }
    }

    private IfNode ParseIf(JinjaToken begin)
    {
        var branches = new List<(JinjaExpr, IReadOnlyList<JinjaNode>)>();
        var test = ParseTuple(withCondExpr: false);
        while (true)
        {
            ExpectBlockEnd();
            var body = Body("if", ["elif", "else", "endif"], out string end);
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                continue;
            }
            IReadOnlyList<JinjaNode>? otherwise = null;
            if (end == "else")
            {
                ExpectBlockEnd();
                otherwise = Body("if", ["endif"], out _);
            }
            ExpectBlockEnd();
            return new IfNode(begin.Position, branches, otherwise);
        }
    }

    private ForNode ParseFor(JinjaToken begin)
    {
        var target = ParseAssignTarget(allowNamespace: false);
        if (!SkipName("in")) throw Error($"expected 'in' in the for statement, got {Current.Describe()}", Current);
        var iterable = ParseTuple(withCondExpr: false, extraEndNames: ["recursive", "if"]);
        JinjaExpr? filter = SkipName("if") ? ParseExpression(withCondExpr: true) : null;
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported", Current);
        ExpectBlockEnd();
        _loopDepth++;
        List<JinjaNode> body;
        string end;
        try
        {
            body = Body("for", ["endfor", "else"], out end);
        }
        finally
        {
            _loopDepth--;
        }
        IReadOnlyList<JinjaNode>? otherwise = null;
        if (end == "else")
        {
            ExpectBlockEnd();
            otherwise = Body("for", ["endfor"], out _);
        }
        ExpectBlockEnd();
        return new ForNode(begin.Position, target, iterable, filter, body, otherwise);
    }

    private JinjaNode ParseSet(JinjaToken begin)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (SkipOperator("="))
        {
            var value = ParseTuple(withCondExpr: true);
            ExpectBlockEnd();
            return new SetNode(begin.Position, target, value);
        }
        if (target is TupleTarget) throw Error("expected '=' after the names of a set statement", Current);
        var filters = new List<FilterExpr>();
        while (Current.IsOperator("|"))
        {
            Next();
            filters.Add(ParseFilter(null));
        }
        ExpectBlockEnd();
        var body = Body("set", ["endset"], out _);
        ExpectBlockEnd();
        return new SetBlockNode(begin.Position, target, body, filters);
    }

    private MacroNode ParseMacro(JinjaToken begin)
    {
        string name = ExpectName("a macro name");
        var parameters = new List<(string, JinjaExpr?)>();
        ExpectOperator("(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) ExpectOperator(",");
            if (SkipOperator(")")) break;
            var paramToken = Current;
            string param = ExpectName("a parameter name");
            if (parameters.Any(p => p.Item1 == param)) throw Error($"duplicate parameter '{param}'", paramToken);
            JinjaExpr? defaultValue = SkipOperator("=") ? ParseExpression(withCondExpr: true) : null;
            if (defaultValue is null && parameters.Any(p => p.Item2 is not null))
                throw Error($"parameter '{param}' without a default follows one with a default", paramToken);
            parameters.Add((param, defaultValue));
        }
        ExpectBlockEnd();
        int loopDepth = _loopDepth;
        _loopDepth = 0;
        List<JinjaNode> body;
        try
        {
            body = Body("macro", ["endmacro"], out _);
        }
        finally
        {
            _loopDepth = loopDepth;
        }
        ExpectBlockEnd();
        return new MacroNode(begin.Position, name, parameters, body);
    }

    private FilterBlockNode ParseFilterBlock(JinjaToken begin)
    {
        var filters = new List<FilterExpr> { ParseFilter(null) };
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        ExpectBlockEnd();
        var body = Body("filter", ["endfilter"], out _);
        ExpectBlockEnd();
        return new FilterBlockNode(begin.Position, filters, body);
    }

    private WithNode ParseWith(JinjaToken begin)
    {
        var assignments = new List<(JinjaTarget, JinjaExpr)>();
        while (Current.Kind != JinjaTokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOperator(",");
            var target = ParseAssignTarget(allowNamespace: false);
            ExpectOperator("=");
            assignments.Add((target, ParseExpression(withCondExpr: true)));
        }
        ExpectBlockEnd();
        var body = Body("with", ["endwith"], out _);
        ExpectBlockEnd();
        return new WithNode(begin.Position, assignments, body);
    }

    /// <summary>A name, names separated by commas (optionally in parentheses), or, for set, <c>ns.attr</c>.</summary>
    private JinjaTarget ParseAssignTarget(bool allowNamespace)
    {
        var start = Current;
        if (allowNamespace && start.Kind == JinjaTokenKind.Name && PeekAt(1).IsOperator(".") && PeekAt(2).Kind == JinjaTokenKind.Name)
        {
            Next();
            Next();
            return new NamespaceTarget(start.Position, start.Value, Next().Value);
        }
        bool parens = SkipOperator("(");
        var names = new List<string>();
        do
        {
            var token = Current;
            string name = ExpectName("a variable name to assign to");
            if (name is "true" or "false" or "none" or "True" or "False" or "None") throw Error($"cannot assign to '{name}'", token);
            names.Add(name);
        }
        while (SkipOperator(",") && Current.Kind == JinjaTokenKind.Name);
        if (parens) ExpectOperator(")");
        return names.Count == 1 && !parens ? new NameTarget(start.Position, names[0]) : new TupleTarget(start.Position, names);
    }
}
