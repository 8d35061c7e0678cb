using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>The tokenizer.json pre-tokenizers we support: Split, ByteLevel, Metaspace, and Sequences of them.</summary>
internal static class HfPreTokenizers
{
    public static PreTokenizerPipeline Build(JsonElement? element, string path) => new(Read(element, path, "pre_tokenizer"));

    private static List<IPreTokenizerStep> Read(JsonElement? element, string path, string where)
    {
        if (element is null) return [];
        var node = element.Value;
        string type = RequiredString(node, "type", path, where);
        switch (type)
        {
            case "Sequence":
                var steps = new List<IPreTokenizerStep>();
                var children = Required(node, "pretokenizers", path, where);
                if (children.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, $"'{where}.pretokenizers' must be an array");
                int i = 0;
                foreach (var child in children.EnumerateArray()) steps.AddRange(Read(child, path, $"{where}.pretokenizers[{i++}]"));
                return steps;
            case "Split":
                return [ReadSplit(node, path, where)];
            case "ByteLevel":
                return [new ByteLevelStep(OptionalBool(node, "add_prefix_space", path, where) ?? true, OptionalBool(node, "use_regex", path, where) ?? true)];
            case "Metaspace":
                var (replacement, scheme) = ReadMetaspace(node, path, where);
                return [new MetaspaceStep(replacement, scheme, OptionalBool(node, "split", path, where) ?? true)];
            default:
                throw Unsupported(path, where + ".type", type);
        }
    }

    private static SplitStep ReadSplit(JsonElement node, string path, string where)
    {
        var pattern = Required(node, "pattern", path, where);
        RegexSplitter splitter;
        if (Optional(pattern, "Regex") is { ValueKind: JsonValueKind.String } regex) splitter = RegexSplitter.FromPattern(regex.GetString()!, path, where);
        else if (Optional(pattern, "String") is { ValueKind: JsonValueKind.String } literal) splitter = RegexSplitter.FromLiteral(literal.GetString()!);
        else throw new InvalidFileException(path, $"'{where}.pattern' must be {{\"Regex\": …}} or {{\"String\": …}}");
        string behaviorName = RequiredString(node, "behavior", path, where);
        if (!Enum.TryParse<SplitBehavior>(behaviorName, ignoreCase: false, out var behavior) || !Enum.IsDefined(behavior))
            throw Unsupported(path, where + ".behavior", behaviorName);
        return new SplitStep(splitter, behavior, OptionalBool(node, "invert", path, where) ?? false);
    }

    /// <summary>
    /// The replacement character and prepend scheme of a Metaspace pre-tokenizer or decoder. prepend_scheme defaults
    /// to "always"; older files say add_prefix_space instead, and add_prefix_space false means "never".
    /// </summary>
    public static (string Replacement, PrependScheme Scheme) ReadMetaspace(JsonElement node, string path, string where)
    {
        string replacement = RequiredString(node, "replacement", path, where);
        if (replacement.EnumerateRunes().Count() != 1)
            throw new InvalidFileException(path, $"'{where}.replacement' must be one character, got \"{replacement}\"");
        string? schemeName = OptionalString(node, "prepend_scheme", path, where);
        var scheme = schemeName switch
        {
            null or "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            _ => throw Unsupported(path, where + ".prepend_scheme", schemeName),
        };
        if (OptionalBool(node, "add_prefix_space", path, where) == false)
        {
            if (schemeName != null && scheme != PrependScheme.Never)
                throw new InvalidFileException(path, $"'{where}': add_prefix_space false contradicts prepend_scheme \"{schemeName}\"");
            scheme = PrependScheme.Never;
        }
        return (replacement, scheme);
    }
}
