using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>The parts of a Hugging Face tokenizer.json that a byte-level BPE tokenizer is built from.</summary>
internal sealed class TokenizerJson
{
    public required string FilePath { get; init; }
    public required Dictionary<string, int> Vocab { get; init; }
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    public required bool IgnoreMerges { get; init; }
    public required string? UnkToken { get; init; }
    public required IReadOnlyList<AddedTokenSpec> AddedTokens { get; init; }
    public required Func<string, string> Normalizer { get; init; }
    public required PreTokenizerPipeline PreTokenizer { get; init; }

    /// <summary>Whether post_processor says anything about BOS (it holds a TemplateProcessing).</summary>
    public required bool TemplateDeclared { get; init; }

    /// <summary>The special token that TemplateProcessing puts before the text, if any.</summary>
    public required (string Token, int Id)? TemplateBos { get; init; }

    /// <summary>True when the pre-tokenizer or decoder is ByteLevel, i.e. this is a byte-level BPE tokenizer.</summary>
    public static bool IsByteLevel(JsonElement root) =>
        HasType(Optional(root, "pre_tokenizer"), "ByteLevel", "pretokenizers") || HasType(Optional(root, "decoder"), "ByteLevel", "decoders");

    public static TokenizerJson Read(JsonElement root, string path)
    {
        var model = Required(root, "model", path, "");
        string modelType = OptionalString(model, "type", path, "model") ?? "BPE";
        if (modelType != "BPE") throw Unsupported(path, "model.type", modelType);
        if (OptionalBool(model, "byte_fallback", path, "model") == true) throw Unsupported(path, "model.byte_fallback", "true");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            string? value = OptionalString(model, affix, path, "model");
            if (!string.IsNullOrEmpty(value)) throw Unsupported(path, "model." + affix, value);
        }
        var decoder = Optional(root, "decoder");
        if (decoder is null || !OnlyTypes(decoder.Value, "decoders", "ByteLevel"))
            throw new MixLoraException($"{path}: 'decoder' must be ByteLevel for a byte-level BPE tokenizer, got {Describe(decoder)}");

        var vocab = ReadVocab(Required(model, "vocab", path, "model"), path);
        var addedTokens = ReadAddedTokens(root, path);
        var (templateDeclared, templateBos) = ReadPostProcessor(Optional(root, "post_processor"), path);
        return new TokenizerJson
        {
            FilePath = path,
            Vocab = vocab,
            Merges = ReadMerges(Required(model, "merges", path, "model"), path),
            IgnoreMerges = OptionalBool(model, "ignore_merges", path, "model") ?? false,
            UnkToken = OptionalString(model, "unk_token", path, "model"),
            AddedTokens = addedTokens,
            Normalizer = HfNormalizers.Build(Optional(root, "normalizer"), path, "normalizer"),
            PreTokenizer = new PreTokenizerPipeline(ReadPreTokenizer(Optional(root, "pre_tokenizer"), path, "pre_tokenizer")),
            TemplateDeclared = templateDeclared,
            TemplateBos = templateBos,
        };
    }

    private static Dictionary<string, int> ReadVocab(JsonElement vocab, string path)
    {
        if (vocab.ValueKind != JsonValueKind.Object) throw new InvalidFileException(path, "'model.vocab' must be an object of token: id");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            int id = ToInt(entry.Value, path, $"model.vocab[\"{entry.Name}\"]");
            if (id < 0) throw new InvalidFileException(path, $"'model.vocab[\"{entry.Name}\"]' is negative ({id})");
            result[entry.Name] = id;
        }
        return result;
    }

    /// <summary>Merges come as "left right" strings (older files) or as [left, right] arrays (newer files).</summary>
    private static List<(string, string)> ReadMerges(JsonElement merges, string path)
    {
        if (merges.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, "'model.merges' must be an array");
        var result = new List<(string, string)>(merges.GetArrayLength());
        int index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                string text = merge.GetString()!;
                int space = text.IndexOf(' ', 1);
                if (space < 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0)
                    throw new InvalidFileException(path, $"'model.merges[{index}]' is \"{text}\", expected two tokens separated by one space");
                result.Add((text[..space], text[(space + 1)..]));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                result.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else throw new InvalidFileException(path, $"'model.merges[{index}]' must be \"a b\" or [\"a\", \"b\"], got {Config.JsonSource.Kind(merge.ValueKind)}");
            index++;
        }
        return result;
    }

    private static List<AddedTokenSpec> ReadAddedTokens(JsonElement root, string path)
    {
        var list = Optional(root, "added_tokens");
        if (list is null) return [];
        if (list.Value.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, "'added_tokens' must be an array");
        var tokens = new List<AddedTokenSpec>();
        int index = 0;
        foreach (var token in list.Value.EnumerateArray())
        {
            string where = $"added_tokens[{index++}]";
            int id = ToInt(Required(token, "id", path, where), path, where + ".id");
            if (id < 0) throw new InvalidFileException(path, $"'{where}.id' is negative ({id})");
            string content = RequiredString(token, "content", path, where);
            if (content.Length == 0) throw new InvalidFileException(path, $"'{where}.content' is empty");
            tokens.Add(new AddedTokenSpec(id, content,
                OptionalBool(token, "special", path, where) ?? false,
                OptionalBool(token, "lstrip", path, where) ?? false,
                OptionalBool(token, "rstrip", path, where) ?? false,
                OptionalBool(token, "single_word", path, where) ?? false,
                OptionalBool(token, "normalized", path, where) ?? false));
        }
        return tokens;
    }

    private static List<IPreTokenizerStep> ReadPreTokenizer(JsonElement? element, string path, string where)
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
                foreach (var child in children.EnumerateArray()) steps.AddRange(ReadPreTokenizer(child, path, $"{where}.pretokenizers[{i++}]"));
                return steps;
            case "Split":
                return [ReadSplit(node, path, where)];
            case "ByteLevel":
                return [new ByteLevelStep(OptionalBool(node, "add_prefix_space", path, where) ?? true, OptionalBool(node, "use_regex", path, where) ?? true)];
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

    /// <summary>Finds a TemplateProcessing (alone or in a Sequence) and the special token it puts before "$A".</summary>
    private static (bool Declared, (string, int)? Bos) ReadPostProcessor(JsonElement? element, string path)
    {
        if (element is null) return (false, null);
        var processors = new List<(JsonElement Node, string Where)>();
        string type = RequiredString(element.Value, "type", path, "post_processor");
        if (type == "Sequence")
        {
            int i = 0;
            foreach (var child in Required(element.Value, "processors", path, "post_processor").EnumerateArray())
                processors.Add((child, $"post_processor.processors[{i++}]"));
        }
        else processors.Add((element.Value, "post_processor"));

        (bool, (string, int)?) result = (false, null);
        foreach (var (node, where) in processors)
        {
            string kind = RequiredString(node, "type", path, where);
            if (kind == "ByteLevel") continue;
            if (kind != "TemplateProcessing") throw Unsupported(path, where + ".type", kind);
            result = (true, ReadTemplateBos(node, path, where));
        }
        return result;
    }

    private static (string, int)? ReadTemplateBos(JsonElement node, string path, string where)
    {
        var single = Required(node, "single", path, where);
        if (single.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, $"'{where}.single' must be an array");
        var leading = new List<string>();
        foreach (var item in single.EnumerateArray())
        {
            if (Optional(item, "Sequence") is not null) break;
            var special = Optional(item, "SpecialToken") ?? throw new InvalidFileException(path, $"'{where}.single' entries must be Sequence or SpecialToken");
            leading.Add(RequiredString(special, "id", path, where + ".single[].SpecialToken"));
        }
        if (leading.Count == 0) return null;
        if (leading.Count > 1) throw new MixLoraException($"{path}: '{where}.single' puts {leading.Count} special tokens before the text; only one (BOS) is supported");
        var entry = Required(Required(node, "special_tokens", path, where), leading[0], path, where + ".special_tokens");
        var ids = Required(entry, "ids", path, $"{where}.special_tokens.{leading[0]}");
        if (ids.ValueKind != JsonValueKind.Array || ids.GetArrayLength() != 1)
            throw new InvalidFileException(path, $"'{where}.special_tokens.{leading[0]}.ids' must hold exactly one id");
        return (leading[0], ToInt(ids[0], path, $"{where}.special_tokens.{leading[0]}.ids[0]"));
    }

    private static bool HasType(JsonElement? node, string type, string childrenKey)
    {
        if (node is not { ValueKind: JsonValueKind.Object } element) return false;
        if (Optional(element, "type") is { ValueKind: JsonValueKind.String } t && t.GetString() == type) return true;
        return Optional(element, childrenKey) is { ValueKind: JsonValueKind.Array } children
               && children.EnumerateArray().Any(child => HasType(child, type, childrenKey));
    }

    private static bool OnlyTypes(JsonElement node, string childrenKey, string type)
    {
        string? kind = Optional(node, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
        if (kind == type) return true;
        return kind == "Sequence" && Optional(node, childrenKey) is { ValueKind: JsonValueKind.Array } children
               && children.GetArrayLength() > 0 && children.EnumerateArray().All(child => OnlyTypes(child, childrenKey, type));
    }

    private static string Describe(JsonElement? node)
    {
        if (node is null) return "null";
        string text = node.Value.GetRawText();
        return text.Length > 200 ? text[..200] + "…" : text;
    }

    private static MixLoraException Unsupported(string path, string key, string value) =>
        new($"{path}: '{key}' = \"{value}\" is not supported by this byte-level BPE loader");
}
