using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>
/// The parts of a Hugging Face tokenizer.json with a BPE model that a <see cref="BpeJsonTokenizer"/> is built from:
/// byte-level files (Llama-3, Qwen) and SentencePiece-style files (Gemma, Llama-2/Mistral/Phi-3 "fast").
/// </summary>
internal sealed class TokenizerJson
{
    public required string FilePath { get; init; }
    public required Dictionary<string, int> Vocab { get; init; }
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    public required bool IgnoreMerges { get; init; }
    public required string? UnkToken { get; init; }

    /// <summary>Consecutive unknown characters become one unk token.</summary>
    public required bool FuseUnk { get; init; }

    /// <summary>A character missing from the vocabulary becomes the "&lt;0xNN&gt;" tokens of its UTF-8 bytes.</summary>
    public required bool ByteFallback { get; init; }

    public required IReadOnlyList<AddedTokenSpec> AddedTokens { get; init; }
    public required Func<string, string> Normalizer { get; init; }
    public required PreTokenizerPipeline PreTokenizer { get; init; }
    public required DecoderPipeline Decoder { get; init; }

    /// <summary>True for byte-level BPE (a ByteLevel pre-tokenizer or decoder), false for SentencePiece-style files.</summary>
    public required bool ByteLevel { get; init; }

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
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            string? value = OptionalString(model, affix, path, "model");
            if (!string.IsNullOrEmpty(value)) throw Unsupported(path, "model." + affix, value);
        }
        // BPE dropout skips merges at random (a training-time augmentation); 0 is the same as none.
        if (Optional(model, "dropout") is { } dropout && !(dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() == 0))
            throw Unsupported(path, "model.dropout", dropout.ToString());

        // Reading half a million merges (Gemma-3) costs as much as the vocabulary; the document is immutable, so
        // both are read at once. Errors still surface in file order: the vocabulary's first.
        var mergesNode = Required(model, "merges", path, "model");
        var merges = Task.Run(() => ReadMerges(mergesNode, path));
        var vocab = ReadVocab(Required(model, "vocab", path, "model"), path);
        var addedTokens = ReadAddedTokens(root, path);
        var (templateDeclared, templateBos) = ReadPostProcessor(Optional(root, "post_processor"), path);
        return new TokenizerJson
        {
            FilePath = path,
            Vocab = vocab,
            Merges = merges.GetAwaiter().GetResult(),
            IgnoreMerges = OptionalBool(model, "ignore_merges", path, "model") ?? false,
            UnkToken = OptionalString(model, "unk_token", path, "model"),
            FuseUnk = OptionalBool(model, "fuse_unk", path, "model") ?? false,
            ByteFallback = OptionalBool(model, "byte_fallback", path, "model") ?? false,
            AddedTokens = addedTokens,
            Normalizer = HfNormalizers.Build(Optional(root, "normalizer"), path, "normalizer"),
            PreTokenizer = HfPreTokenizers.Build(Optional(root, "pre_tokenizer"), path),
            Decoder = HfDecoders.Build(Optional(root, "decoder"), path),
            ByteLevel = IsByteLevel(root),
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
}
