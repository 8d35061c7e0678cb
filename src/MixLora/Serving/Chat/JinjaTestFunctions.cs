namespace MixLora.Serving;

/// <summary>
/// The tests (<c>value is name</c>): defined, undefined, none, string, number, integer, float, boolean, true, false,
/// mapping, iterable, sequence, callable, odd, even, divisibleby, lower, upper, sameas, in, and the comparisons
/// eq/equalto/==, ne/!=, lt/lessthan/&lt;, le/&lt;=, gt/greaterthan/&gt;, ge/&gt;= (as used by selectattr).
/// </summary>
internal static class JinjaTestFunctions
{
    private delegate bool Test(object? value, JinjaArgs args);

    private static readonly Dictionary<string, Test> All = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, a) => v is not JinjaUndefined,
        ["undefined"] = (v, a) => v is JinjaUndefined,
        ["none"] = (v, a) => v is null,
        ["string"] = (v, a) => v is string,
        ["number"] = (v, a) => v is long or double or bool,
        ["integer"] = (v, a) => v is long,
        ["float"] = (v, a) => v is double,
        ["boolean"] = (v, a) => v is bool,
        ["true"] = (v, a) => v is true,
        ["false"] = (v, a) => v is false,
        ["mapping"] = (v, a) => v is JinjaDict,
        ["iterable"] = (v, a) => v is string or JinjaList or JinjaDict or JinjaUndefined,
        ["sequence"] = (v, a) => v is string or JinjaList or JinjaDict or JinjaUndefined,
        ["callable"] = (v, a) => v is JinjaCallable,
        ["odd"] = (v, a) => Integer(v, "odd") % 2 != 0,
        ["even"] = (v, a) => Integer(v, "even") % 2 == 0,
        ["divisibleby"] = (v, a) =>
        {
            a.Accept("num");
            long n = a.Integer(0, "num", 0);
            return n == 0 ? throw JinjaError.Render("integer division or modulo by zero") : Integer(v, "divisibleby") % n == 0;
        },
        ["lower"] = (v, a) => HasCased(JinjaText.Str(v)) && !JinjaText.Str(v).Any(char.IsUpper),
        ["upper"] = (v, a) => HasCased(JinjaText.Str(v)) && !JinjaText.Str(v).Any(char.IsLower),
        ["sameas"] = (v, a) => SameAs(v, a.Accept("other").Required(0, "other")),
        ["in"] = (v, a) => JinjaOps.Contains(a.Accept("seq").Required(0, "seq"), v),
        ["eq"] = Comparison("=="),
        ["equalto"] = Comparison("=="),
        ["=="] = Comparison("=="),
        ["ne"] = Comparison("!="),
        ["!="] = Comparison("!="),
        ["lt"] = Comparison("<"),
        ["lessthan"] = Comparison("<"),
        ["<"] = Comparison("<"),
        ["le"] = Comparison("<="),
        ["<="] = Comparison("<="),
        ["gt"] = Comparison(">"),
        ["greaterthan"] = Comparison(">"),
        [">"] = Comparison(">"),
        ["ge"] = Comparison(">="),
        [">="] = Comparison(">="),
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static bool Apply(string name, object? value, JinjaArgs args) =>
        All.TryGetValue(name, out var test) ? test(value, args) : throw JinjaError.Render($"no test named '{name}'");

    /// <summary>Python's islower/isupper need at least one cased character.</summary>
    private static bool HasCased(string s) => s.Any(c => char.IsUpper(c) || char.IsLower(c));

    private static Test Comparison(string op) => (v, a) => JinjaOps.Compare(op, v, a.Accept("other").Required(0, "other"));

    private static long Integer(object? value, string test) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        JinjaUndefined u => throw u.Fail(),
        _ => throw JinjaError.Render($"the '{test}' test needs an integer, not {JinjaValue.TypeName(value)}"),
    };

    /// <summary>Python's <c>is</c>: identity; None, booleans and small values compare by value as CPython's singletons do.</summary>
    private static bool SameAs(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (bool x, bool y) => x == y,
        (JinjaUndefined, _) or (_, JinjaUndefined) => ReferenceEquals(a, b),
        (long x, long y) => x == y && x is >= -5 and <= 256,
        _ => ReferenceEquals(a, b),
    };
}
