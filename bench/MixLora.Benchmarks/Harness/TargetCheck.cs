using System.Globalization;
using System.Text.Json.Nodes;

namespace MixLora.Benchmarks.Harness;

/// <summary>One performance target of the issue: a measured value against a limit that is either an upper or a lower bound.</summary>
public sealed record TargetCheck(string Name, double Value, double Limit, bool AtMost)
{
    public static TargetCheck Max(string name, double value, double limit) => new(name, value, limit, AtMost: true);

    public static TargetCheck Min(string name, double value, double limit) => new(name, value, limit, AtMost: false);

    public bool Met => AtMost ? Value <= Limit : Value >= Limit;

    public string Comparison => AtMost ? "<=" : ">=";

    public JsonObject ToJson() => new()
    {
        ["value"] = Value,
        ["limit"] = Limit,
        ["comparison"] = Comparison,
        ["met"] = Met,
    };

    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name} = {Value:F3} (target {Comparison} {Limit:0.00}): {(Met ? "met" : "NOT met")}");
}
