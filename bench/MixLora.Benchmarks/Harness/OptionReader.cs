using System.Globalization;

namespace MixLora.Benchmarks.Harness;

/// <summary>
/// The "--name value" and "--flag" options of one benchmark case. Every option must be declared, so a typo
/// (e.g. "--step 3") is an error instead of being silently ignored and measuring something else.
/// </summary>
public sealed class OptionReader
{
    private readonly string _case;
    private readonly Dictionary<string, string?> _given = new(StringComparer.Ordinal);

    /// <param name="caseName">The benchmark case, prefixed to error messages.</param>
    /// <param name="flags">Options without a value.</param>
    /// <param name="valued">Options followed by a value.</param>
    public OptionReader(string caseName, string[] args, IReadOnlyCollection<string> flags, IReadOnlyCollection<string> valued)
    {
        _case = caseName;
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (_given.ContainsKey(name)) throw Error($"option {name} is given twice");
            if (flags.Contains(name)) _given[name] = null;
            else if (valued.Contains(name))
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw Error($"option {name} needs a value");
                _given[name] = args[++i];
            }
            else throw Error($"unknown option '{name}' (see --help)");
        }
    }

    public bool Flag(string name) => _given.ContainsKey(name);

    public string? String(string name) => _given.GetValueOrDefault(name);

    /// <summary>An integer option of at least <paramref name="min"/>, or the fallback when absent.</summary>
    public int Int(string name, int fallback, int min)
    {
        if (String(name) is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            throw Error($"option {name} expects an integer, got '{text}'");
        if (value < min) throw Error($"option {name} must be at least {min}, got {value}");
        return value;
    }

    public UsageException Error(string message) => new($"{_case}: {message}");
}
