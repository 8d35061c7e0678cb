namespace MixLora.Adapters;

/// <summary>The adapter-config spellings of <see cref="RoutingStrategy"/>.</summary>
public static class RoutingStrategyNames
{
    public const string TopK = "mixlora";
    public const string Switch = "mixlora-switch";
    public const string Dynamic = "mixlora-dynamic";

    /// <summary>Whether <paramref name="name"/> names a MixLoRA routing strategy.</summary>
    public static bool TryParse(string? name, out RoutingStrategy strategy)
    {
        switch (name)
        {
            case TopK: strategy = RoutingStrategy.TopK; return true;
            case Switch: strategy = RoutingStrategy.Switch; return true;
            case Dynamic: strategy = RoutingStrategy.Dynamic; return true;
            default: strategy = default; return false;
        }
    }

    /// <summary>Parses a <c>routing_strategy</c> value; throws <see cref="MixLoraException"/> naming the accepted values.</summary>
    public static RoutingStrategy Parse(string? name) =>
        TryParse(name, out var strategy)
            ? strategy
            : throw new MixLoraException(
                $"routing_strategy \"{name}\" is not a MixLoRA strategy (expected \"{TopK}\", \"{Switch}\" or \"{Dynamic}\")");

    /// <summary>The config spelling of <paramref name="strategy"/>.</summary>
    public static string Format(RoutingStrategy strategy) => strategy switch
    {
        RoutingStrategy.TopK => TopK,
        RoutingStrategy.Switch => Switch,
        RoutingStrategy.Dynamic => Dynamic,
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, null),
    };
}
