using System.Text.Json.Nodes;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// Builds small tokenizer.json documents. Byte-level (<see cref="Build"/>): the 256 byte characters (ids 0-255, in
/// GPT-2's byte order) plus the merged tokens of the given merges, in order. SentencePiece-style
/// (<see cref="SentencePieceStyle"/>): Llama-2 "fast" components unless replaced.
/// </summary>
public static class SyntheticTokenizerJson
{
    /// <summary>GPT-2's byte to character mapping, written independently of the library's.</summary>
    public static char ByteChar(int b)
    {
        int shifted = 0;
        for (int x = 0; x < 256; x++)
        {
            bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
            if (x == b) return printable ? (char)x : (char)(256 + shifted);
            if (!printable) shifted++;
        }
        throw new ArgumentOutOfRangeException(nameof(b));
    }

    public static JsonObject Build(IEnumerable<(string Left, string Right)> merges, JsonNode? preTokenizer = null, bool mergesAsArrays = false)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteChar(b).ToString()] = b;
        var mergeList = new JsonArray();
        foreach (var (left, right) in merges)
        {
            if (!vocab.ContainsKey(left + right)) vocab[left + right] = vocab.Count;
            mergeList.Add(mergesAsArrays ? new JsonArray(left, right) : JsonValue.Create($"{left} {right}"));
        }
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 1000, ["content"] = "<|bos|>", ["special"] = true },
                new JsonObject { ["id"] = 1001, ["content"] = "<tag>", ["special"] = false }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer ?? ByteLevel(),
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel" },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = mergeList },
        };
    }

    public static JsonObject ByteLevel(bool addPrefixSpace = false, bool useRegex = false) =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["use_regex"] = useRegex };

    public static JsonObject Split(string kind, string pattern, string behavior, bool invert = false) =>
        new()
        {
            ["type"] = "Split",
            ["pattern"] = new JsonObject { [kind] = pattern },
            ["behavior"] = behavior,
            ["invert"] = invert,
        };

    public static JsonObject Sequence(params JsonNode[] steps) =>
        new() { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(steps) };

    /// <summary>
    /// A SentencePiece-style BPE file: "&lt;unk&gt;" 0, "&lt;s&gt;" 1, "&lt;/s&gt;" 2 (special added tokens), the
    /// byte tokens "&lt;0x00&gt;"…"&lt;0xFF&gt;" 3-258, then each of <paramref name="characters"/>, then the merged
    /// tokens of <paramref name="merges"/> in order; "&lt;tag&gt;" is a non-special added token with id 1000.
    /// Components default to Llama-2 "fast": normalizer Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer,
    /// decoder Replace("▁" → " ") + ByteFallback + Fuse + Strip(" ", 1, 0), TemplateProcessing with BOS "&lt;s&gt;".
    /// </summary>
    public static JsonObject SentencePieceStyle(
        string characters, IEnumerable<(string Left, string Right)> merges,
        JsonNode? normalizer = null, JsonNode? preTokenizer = null, JsonNode? decoder = null,
        bool byteFallback = true, bool fuseUnk = true, string? unkToken = "<unk>")
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        foreach (var rune in characters.EnumerateRunes()) vocab[rune.ToString()] = vocab.Count;
        var mergeList = new JsonArray();
        foreach (var (left, right) in merges)
        {
            if (!vocab.ContainsKey(left + right)) vocab[left + right] = vocab.Count;
            mergeList.Add(new JsonArray(left, right));
        }
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                AddedToken(0, "<unk>", special: true), AddedToken(1, "<s>", special: true), AddedToken(2, "</s>", special: true),
                AddedToken(1000, "<tag>", special: false)),
            ["normalizer"] = normalizer ?? SequenceOf("normalizers", Prepend("\u2581"), Replace(" ", "\u2581")),
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") } },
            },
            ["decoder"] = decoder ?? SequenceOf("decoders", Replace("\u2581", " "), Type("ByteFallback"), Type("Fuse"), Strip(" ", 1, 0)),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = unkToken, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = fuseUnk, ["byte_fallback"] = byteFallback, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = mergeList,
            },
        };
    }

    /// <summary>The id of a vocabulary entry of a built document.</summary>
    public static int Id(JsonObject json, string token) => json["model"]!["vocab"]![token]!.GetValue<int>();

    public static JsonObject Type(string type) => new() { ["type"] = type };

    public static JsonObject Replace(string pattern, string content, string kind = "String") =>
        new() { ["type"] = "Replace", ["pattern"] = new JsonObject { [kind] = pattern }, ["content"] = content };

    public static JsonObject Prepend(string prefix) => new() { ["type"] = "Prepend", ["prepend"] = prefix };

    public static JsonObject Strip(string content, int start, int stop) =>
        new() { ["type"] = "Strip", ["content"] = content, ["start"] = start, ["stop"] = stop };

    public static JsonObject Metaspace(string prependScheme, bool split = true) =>
        new() { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = prependScheme, ["split"] = split };

    /// <summary>A Sequence of normalizers ("normalizers"), pre-tokenizers ("pretokenizers") or decoders ("decoders").</summary>
    public static JsonObject SequenceOf(string childrenKey, params JsonNode[] steps) =>
        new() { ["type"] = "Sequence", [childrenKey] = new JsonArray(steps) };

    private static JsonObject AddedToken(int id, string content, bool special) =>
        new() { ["id"] = id, ["content"] = content, ["special"] = special, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false, ["normalized"] = false };
}
