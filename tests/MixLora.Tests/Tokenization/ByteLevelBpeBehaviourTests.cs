using System.Text.Json.Nodes;
using MixLora.Tests.Support;
using MixLora.Tokenization;
using static MixLora.Tests.Tokenization.SyntheticTokenizerJson;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// The byte-level BPE loader's components on small synthetic tokenizer.json files, where each expected id list
/// follows from the rules by hand. Byte characters have ids 0-255 (their byte values); merged tokens 256 on.
/// </summary>
public class ByteLevelBpeBehaviourTests
{
    private static ITextTokenizer Load(JsonObject json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        return TokenizerLoader.FromFolder(dir.Path);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MergesApplyLowestRankFirst(bool mergesAsArrays)
    {
        var bcFirst = Load(Build([("b", "c"), ("a", "b")], mergesAsArrays: mergesAsArrays));
        Assert.Equal([97, 256], bcFirst.Encode("abc"));          // a + bc
        var abFirst = Load(Build([("a", "b"), ("b", "c")], mergesAsArrays: mergesAsArrays));
        Assert.Equal([256, 99], abFirst.Encode("abc"));          // ab + c
        Assert.Equal("abc", abFirst.Decode([256, 99]));
        Assert.Equal("ab", abFirst.IdToToken(256));
    }

    [Fact]
    public void EqualRanksMergeLeftmostFirst()
    {
        var tokenizer = Load(Build([("a", "a")]));
        Assert.Equal([256, 97], tokenizer.Encode("aaa"));
        Assert.Equal([256, 256], tokenizer.Encode("aaaa"));
    }

    [Theory]
    [InlineData("Isolated", false, "a-b", new[] { 97, 45, 98 })]
    [InlineData("Removed", false, "a-b", new[] { 97, 98 })]
    [InlineData("Removed", true, "a-b", new[] { 45 })]
    [InlineData("MergedWithPrevious", false, "a-b", new[] { 256, 98 })]
    [InlineData("MergedWithNext", false, "a-b", new[] { 97, 257 })]
    [InlineData("Isolated", false, "a--b", new[] { 97, 45, 45, 98 })]
    [InlineData("Contiguous", false, "a--b", new[] { 97, 258, 98 })]
    public void SplitBehavioursCutPiecesAsDeclared(string behavior, bool invert, string text, int[] expected)
    {
        // Merges that would join across every boundary, so the ids show where the pieces were cut.
        var json = Build([("a", "-"), ("-", "b"), ("-", "-")], Sequence(Split("String", "-", behavior, invert), ByteLevel()));
        Assert.Equal(expected, Load(json).Encode(text));
    }

    [Fact]
    public void PossessiveQuantifierIsHonoured()
    {
        // "a*+a" can never match (the possessive a*+ keeps every 'a'), while "a*a" matches the whole run.
        var possessive = Load(Build([], Sequence(Split("Regex", "a*+a", "Removed"), ByteLevel())));
        Assert.Equal([97, 97, 97], possessive.Encode("aaa"));
        var greedy = Load(Build([], Sequence(Split("Regex", "a*a", "Removed"), ByteLevel())));
        Assert.Empty(greedy.Encode("aaa"));
    }

    [Fact]
    public void SupplementaryLettersCountAsLettersInTheRegex()
    {
        // U+20000 (CJK Extension B) is a letter: "a𠀀b" is one \p{L}+ piece, so 'a' merges with its first byte F0.
        var json = Build([("a", ByteChar(0xF0).ToString())], Sequence(Split("Regex", @"\p{L}+", "Isolated"), ByteLevel()));
        Assert.Equal([256, 0xA0, 0x80, 0x80, 98], Load(json).Encode("a\U00020000b"));
    }

    [Fact]
    public void SupplementaryDigitsCountOncePerCodePoint()
    {
        // U+1D7CE.. are digits: \p{N}{1,3} takes three of them, so the fourth starts a new piece.
        string four = "\U0001D7CE\U0001D7CF\U0001D7D0\U0001D7D1";
        var thirdLastByte = ByteChar(0x90).ToString();   // last UTF-8 byte of U+1D7D0 is 0x90
        var fourthFirstByte = ByteChar(0xF0).ToString();
        var json = Build([(thirdLastByte, fourthFirstByte)], Sequence(Split("Regex", @"\p{N}{1,3}", "Isolated"), ByteLevel()));
        var ids = Load(json).Encode(four);
        Assert.Equal(16, ids.Count);   // no merge across the piece boundary
        Assert.Equal(four, Load(json).Decode(ids));
    }

    [Fact]
    public void ByteLevelAddsPrefixSpaceAndSplitsWithGpt2Pattern()
    {
        string g = ByteChar(' ').ToString();   // 'Ġ'
        var json = Build([(g, "a"), (g, "b")], ByteLevel(addPrefixSpace: true, useRegex: true));
        var tokenizer = Load(json);
        Assert.Equal([256, 257], tokenizer.Encode("a b"));       // " a", " b"
        Assert.Equal([256, 257], tokenizer.Encode(" a b"));      // no second prefix space
        Assert.Equal(" a b", tokenizer.Decode([256, 257]));
    }

    [Fact]
    public void AddedTokensMatchLongestFirstBeforePreTokenization()
    {
        var json = Build([("x", "<")]);
        ((JsonArray)json["added_tokens"]!).Add(new JsonObject { ["id"] = 1002, ["content"] = "<tag>long", ["special"] = false });
        var tokenizer = Load(json);
        Assert.Equal([120, 1001, 121, 1000], tokenizer.Encode("x<tag>y<|bos|>"));
        Assert.Equal([1002, 1001], tokenizer.Encode("<tag>long<tag>"));
        Assert.Equal([256, 98], tokenizer.Encode("x<b"));        // not an added token: ordinary merges
        Assert.Equal("x<tag>y", tokenizer.Decode([120, 1001, 121, 1000]));
        Assert.Equal("x<tag>y<|bos|>", tokenizer.Decode([120, 1001, 121, 1000], skipSpecialTokens: false));
        Assert.Equal(1003, tokenizer.VocabSize);
    }

    [Fact]
    public void TemplateProcessingDecidesBosWhenConfigIsSilent()
    {
        var json = Build([]);
        json["post_processor"] = JsonNode.Parse("""
            {"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"TemplateProcessing",
              "single":[{"SpecialToken":{"id":"<|bos|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
              "pair":[],"special_tokens":{"<|bos|>":{"id":"<|bos|>","ids":[1000],"tokens":["<|bos|>"]}}}]}
            """);
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.True(tokenizer.AddBos);
        Assert.Equal([1000, 97], tokenizer.Encode("a"));

        // add_bos_token in tokenizer_config.json overrides the template.
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": false, "eos_token": {"content": "<tag>"}}""");
        tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.False(tokenizer.AddBos);
        Assert.Equal(1000, tokenizer.BosId);
        Assert.Equal(1001, tokenizer.EosId);
        Assert.Equal([97], tokenizer.Encode("a"));
    }

    [Fact]
    public void ConfigJsonIdsAreTheFallback()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), Build([]).ToJsonString());
        File.WriteAllText(dir.File("config.json"), """{"bos_token_id": 1000, "eos_token_id": [1001, 7], "pad_token_id": null}""");
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.Equal((1000, 1001), (tokenizer.BosId, tokenizer.EosId));
        Assert.Null(tokenizer.PadId);
        Assert.False(tokenizer.AddBos);   // a ByteLevel post-processor and no tokenizer_config.json naming a BOS
    }
}
