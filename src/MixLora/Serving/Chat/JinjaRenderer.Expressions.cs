namespace MixLora.Serving;

internal sealed partial class JinjaRenderer
{
    private object? Evaluate(JinjaExpr expr, JinjaScope scope)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        try
        {
            return expr switch
            {
                LiteralExpr literal => literal.Value,
                NameExpr name => Lookup(name.Name, scope),
                ListExpr list => new JinjaList(list.Items.Select(item => Evaluate(item, scope)).ToList(), list.IsTuple),
                DictExpr dict => BuildDict(dict, scope),
                AttributeExpr attribute => JinjaAccess.Attribute(Evaluate(attribute.Target, scope), attribute.Name),
                ItemExpr { Index: SliceExpr slice } item => JinjaAccess.Slice(
                    Evaluate(item.Target, scope), Optional(slice.Start, scope), Optional(slice.Stop, scope), Optional(slice.Step, scope)),
                ItemExpr item => JinjaAccess.Item(Evaluate(item.Target, scope), Evaluate(item.Index, scope)),
                CallExpr call => JinjaAccess.Call(Evaluate(call.Target, scope), Arguments(Describe(call.Target), call.Arguments, scope)),
                FilterExpr filter => ApplyFilter(filter, Evaluate(filter.Input!, scope), scope),
                TestExpr test => JinjaTestFunctions.Apply(test.Name, Evaluate(test.Input, scope), Arguments(test.Name, test.Arguments, scope)) != test.Negated,
                UnaryExpr { Operator: "not" } not => !JinjaOps.Truthy(Evaluate(not.Operand, scope)),
                UnaryExpr { Operator: "-" } negate => JinjaOps.Negate(Evaluate(negate.Operand, scope)),
                UnaryExpr plus => JinjaOps.Plus(Evaluate(plus.Operand, scope)),
                BinaryExpr { Operator: "and" } and => Evaluate(and.Left, scope) is var left && !JinjaOps.Truthy(left) ? left : Evaluate(and.Right, scope),
                BinaryExpr { Operator: "or" } or => Evaluate(or.Left, scope) is var first && JinjaOps.Truthy(first) ? first : Evaluate(or.Right, scope),
                BinaryExpr binary => JinjaOps.Binary(binary.Operator, Evaluate(binary.Left, scope), Evaluate(binary.Right, scope)),
                CompareExpr compare => EvaluateCompare(compare, scope),
                ConditionalExpr conditional => JinjaOps.Truthy(Evaluate(conditional.Test, scope))
                    ? Evaluate(conditional.Then, scope)
                    : conditional.Otherwise is null
                        ? new JinjaUndefined("the inline if-expression evaluated to false and no else section was defined")
                        : Evaluate(conditional.Otherwise, scope),
                _ => throw new InvalidOperationException($"unknown expression {expr.GetType().Name}"),
            };
        }
        catch (JinjaError e) when (e.Position < 0)
        {
            e.Position = expr.Pos;
            throw;
        }
    }

    private object? Optional(JinjaExpr? expr, JinjaScope scope) => expr is null ? null : Evaluate(expr, scope);

    private object? Lookup(string name, JinjaScope scope)
    {
        if (scope.TryGet(name, out var value)) return value;
        return _globals.TryGetValue(name, out var global) ? global : JinjaUndefined.Missing(name);
    }

    private JinjaDict BuildDict(DictExpr dict, JinjaScope scope)
    {
        var result = new JinjaDict();
        foreach (var (key, value) in dict.Items) result.Set(Evaluate(key, scope), Evaluate(value, scope));
        return result;
    }

    private bool EvaluateCompare(CompareExpr compare, JinjaScope scope)
    {
        var left = Evaluate(compare.First, scope);
        foreach (var (op, operand) in compare.Rest)
        {
            var right = Evaluate(operand, scope);
            if (!JinjaOps.Compare(op, left, right)) return false;
            left = right;
        }
        return true;
    }

    private object? ApplyFilter(FilterExpr filter, object? input, JinjaScope scope) =>
        JinjaFilters.Apply(filter.Name, input, Arguments(filter.Name, filter.Arguments, scope));

    private static string Describe(JinjaExpr target) => target switch
    {
        NameExpr name => name.Name,
        AttributeExpr attribute => attribute.Name,
        _ => "function",
    };

    private JinjaArgs Arguments(string function, CallArguments arguments, JinjaScope scope)
    {
        var positional = arguments.Positional.Select(a => Evaluate(a, scope)).ToList();
        if (arguments.Star is not null) positional.AddRange(JinjaOps.Iterate(Evaluate(arguments.Star, scope)));
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments.Named) named[name] = Evaluate(value, scope);
        if (arguments.DoubleStar is not null)
        {
            if (Evaluate(arguments.DoubleStar, scope) is not JinjaDict extra) throw JinjaError.Render("argument after ** must be a mapping");
            foreach (var kv in extra.Items) named[kv.Key as string ?? throw JinjaError.Render("keywords must be strings")] = kv.Value;
        }
        return new JinjaArgs(function, positional, named);
    }
}
