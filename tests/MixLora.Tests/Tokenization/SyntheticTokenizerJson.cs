using System.Text.Json.Nodes;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// Builds small byte-level tokenizer.json documents: the 256 byte characters (ids 0-255, in GPT-2's byte order)
/// plus the merged tokens of the given merges, in order.
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
}
