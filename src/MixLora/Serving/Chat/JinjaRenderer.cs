using System.Text;

namespace MixLora.Serving;

/// <summary>Variables visible at one point: a for-loop iteration, macro call or with block opens a child scope; if does not.</summary>
internal sealed class JinjaScope(JinjaScope? parent)
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out value)) return true;
        }
        value = null;
        return false;
    }

    public JinjaScope? Parent { get; } = parent;

    public void Set(string name, object? value) => _variables[name] = value;
}

/// <summary>
/// Executes a parsed template. Statements are in this file, expressions in JinjaRenderer.Expressions.cs.
/// Errors carry the position of the innermost node that failed.
/// </summary>
internal sealed partial class JinjaRenderer
{
    private const int MaxMacroDepth = 100;
    private const int MaxOutputChars = 64 * 1024 * 1024;

    private readonly Dictionary<string, object?> _globals;
    private int _macroDepth;

    public JinjaRenderer(Func<DateTime> clock) => _globals = JinjaGlobals.Create(clock);

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public string Render(IReadOnlyList<JinjaNode> body, IReadOnlyDictionary<string, object?> variables)
    {
        var root = new JinjaScope(null);
        foreach (var (name, value) in variables) root.Set(name, value);
        var output = new StringBuilder();
        Execute(body, root, output);
        return output.ToString();
    }

    private Flow Execute(IReadOnlyList<JinjaNode> nodes, JinjaScope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = Execute(node, scope, output);
            if (flow != Flow.Normal) return flow;
            if (output.Length > MaxOutputChars) throw new JinjaError(ChatTemplateErrorKind.Render, $"the output exceeds {MaxOutputChars} characters", node.Pos);
        }
        return Flow.Normal;
    }

    private Flow Execute(JinjaNode node, JinjaScope scope, StringBuilder output)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        try
        {
            switch (node)
            {
                case TextNode text:
                    output.Append(text.Text);
                    return Flow.Normal;
                case OutputNode print:
                    output.Append(JinjaText.Str(Evaluate(print.Value, scope)));
                    return Flow.Normal;
                case IfNode branch:
                    foreach (var (test, body) in branch.Branches)
                    {
                        if (JinjaOps.Truthy(Evaluate(test, scope))) return Execute(body, scope, output);
                    }
                    return branch.Else is null ? Flow.Normal : Execute(branch.Else, scope, output);
                case ForNode loop:
                    ExecuteFor(loop, scope, output);
                    return Flow.Normal;
                case SetNode set:
                    Assign(set.Target, Evaluate(set.Value, scope), scope);
                    return Flow.Normal;
                case SetBlockNode setBlock:
                    object? captured = Capture(setBlock.Body, new JinjaScope(scope));
                    foreach (var filter in setBlock.Filters) captured = ApplyFilter(filter, captured, scope);
                    Assign(setBlock.Target, captured, scope);
                    return Flow.Normal;
                case BreakNode:
                    return Flow.Break;
                case ContinueNode:
                    return Flow.Continue;
                case MacroNode macro:
                    scope.Set(macro.Name, DefineMacro(macro, scope));
                    return Flow.Normal;
                case FilterBlockNode filterBlock:
                    object? filtered = Capture(filterBlock.Body, new JinjaScope(scope));
                    foreach (var filter in filterBlock.Filters) filtered = ApplyFilter(filter, filtered, scope);
                    output.Append(JinjaText.Str(filtered));
                    return Flow.Normal;
                case WithNode with:
                    var inner = new JinjaScope(scope);
                    var values = with.Assignments.Select(a => Evaluate(a.Value, scope)).ToList();
                    for (int i = 0; i < values.Count; i++) Assign(with.Assignments[i].Target, values[i], inner);
                    return Execute(with.Body, inner, output);
                case GenerationNode generation:
                    return Execute(generation.Body, scope, output);
                default:
                    throw new InvalidOperationException($"unknown node {node.GetType().Name}");
            }
        }
        catch (JinjaError e) when (e.Position < 0)
        {
            e.Position = node.Pos;
            throw;
        }
    }

    private string Capture(IReadOnlyList<JinjaNode> body, JinjaScope scope)
    {
        var sb = new StringBuilder();
        Execute(body, scope, sb);
        return sb.ToString();
    }

    private void ExecuteFor(ForNode loop, JinjaScope scope, StringBuilder output)
    {
        var items = JinjaOps.Iterate(Evaluate(loop.Iterable, scope));
        if (loop.Filter is not null)
        {
            items = items.Where(item =>
            {
                var test = new JinjaScope(scope);
                Assign(loop.Target, item, test);
                return JinjaOps.Truthy(Evaluate(loop.Filter, test));
            }).ToList();
        }
        var context = new JinjaLoop(items);
        for (int i = 0; i < items.Count; i++)
        {
            var iteration = new JinjaScope(scope);
            Assign(loop.Target, items[i], iteration);
            context.Index0 = i;
            iteration.Set("loop", context);
            if (Execute(loop.Body, iteration, output) == Flow.Break) break;
        }
        if (items.Count == 0 && loop.Else is not null) Execute(loop.Else, scope, output);
    }

    private static void Assign(JinjaTarget target, object? value, JinjaScope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case TupleTarget tuple:
                if (value is JinjaUndefined u) throw u.Fail();
                if (value is not (string or JinjaList or JinjaDict)) throw JinjaError.Render($"cannot unpack non-iterable {JinjaValue.TypeName(value)} object");
                var items = JinjaOps.Iterate(value);
                if (items.Count != tuple.Names.Count)
                {
                    throw JinjaError.Render(items.Count > tuple.Names.Count
                        ? $"too many values to unpack (expected {tuple.Names.Count})"
                        : $"not enough values to unpack (expected {tuple.Names.Count}, got {items.Count})");
                }
                for (int i = 0; i < items.Count; i++) scope.Set(tuple.Names[i], items[i]);
                break;
            case NamespaceTarget attribute:
                if (!scope.TryGet(attribute.Namespace, out var ns) || ns is not JinjaNamespace namespaceObject)
                    throw JinjaError.Render($"cannot assign attribute '{attribute.Attribute}' on '{attribute.Namespace}': it is not a namespace() object");
                namespaceObject.Attributes[attribute.Attribute] = value;
                break;
        }
    }

    private JinjaCallable DefineMacro(MacroNode macro, JinjaScope definedIn) => new(macro.Name, args =>
    {
        if (args.Positional.Count > macro.Parameters.Count)
            throw JinjaError.Render($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)");
        var scope = new JinjaScope(definedIn);
        for (int i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            object? value;
            if (i < args.Positional.Count) value = args.Positional[i];
            else if (args.Named.TryGetValue(name, out var named)) value = named;
            else if (fallback is not null) value = Evaluate(fallback, scope);
            else value = JinjaUndefined.Missing(name);
            scope.Set(name, value);
        }
        foreach (var key in args.Named.Keys)
        {
            if (!macro.Parameters.Any(p => p.Name == key)) throw JinjaError.Render($"macro '{macro.Name}' takes no keyword argument '{key}'");
        }
        _macroDepth++;
        try
        {
            if (_macroDepth > MaxMacroDepth) throw JinjaError.Render($"macro calls nested deeper than {MaxMacroDepth} (endless recursion?)");
            return Capture(macro.Body, scope);
        }
        finally
        {
            _macroDepth--;
        }
    });
}
