using System.Globalization;

namespace MixLora.Cli.Commands;

/// <summary>Parsing of option values that System.CommandLine does not handle itself.</summary>
public static class CliParsing
{
    /// <summary>Parses "1,403,407" into ids; errors name the option and the bad item.</summary>
    public static IReadOnlyList<int> ParseIds(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0) throw new MixLoraException($"{option}: expected comma-separated token ids such as \"1,403,407\", got \"{text}\"");
        var ids = new List<int>();
        foreach (var item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                throw new MixLoraException($"{option}: \"{item}\" is not a non-negative integer token id");
            ids.Add(id);
        }
        return ids;
    }
}
