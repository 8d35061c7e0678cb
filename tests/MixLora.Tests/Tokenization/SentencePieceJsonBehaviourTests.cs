using System.Text.Json.Nodes;
using MixLora.Tests.Support;
using MixLora.Tokenization;
using static MixLora.Tests.Tokenization.SyntheticTokenizerJson;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// The SentencePiece-style tokenizer.json components on small synthetic files, where each expected id list follows
/// from the rules of Hugging Face tokenizers by hand: byte fallback, unk, Metaspace, Prepend/Replace normalizers,
/// and the Replace / ByteFallback / Fuse / Strip / Metaspace decoders.
/// </summary>
public class SentencePieceJsonBehaviourTests
{
    private const string Space = "\u2581";

    private static ITextTokenizer Load(JsonObject json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        return TokenizerLoader.FromFolder(dir.Path);
    }

    private static int Byte(int value) => 3 + value;   // "<0xNN>" ids in the synthetic files

    [Fact]
    public void LlamaTwoFastShapePrependsTheSpaceAndStripsItWhenDecoding()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a"), (Space, "b")]);
        var tokenizer = Load(json);
        int a = Id(json, Space + "a"), b = Id(json, Space + "b");
        Assert.Equal("sentencepiece-json", tokenizer.Kind);
        Assert.Equal([a, b], tokenizer.Encode("a b", addSpecialTokens: false));    // "▁a▁b"
        Assert.True(tokenizer.AddBos);                                             // TemplateProcessing puts <s> first
        Assert.Equal([1, a, b], tokenizer.Encode("a b"));
        Assert.Equal("a b", tokenizer.Decode([1, a, b]));
        // Strip removes one leading space of the fused text, which here starts with "<s>".
        Assert.Equal("<s> a b", tokenizer.Decode([1, a, b], skipSpecialTokens: false));
        // Each stretch between added tokens is normalized on its own, so both get the '▁' prefix.
        Assert.Equal([a, 1000, b], tokenizer.Encode("a<tag>b", addSpecialTokens: false));
        Assert.Empty(tokenizer.Encode("", addSpecialTokens: false));
    }

    [Fact]
    public void CharactersMissingFromTheVocabularyFallBackToTheirBytes()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a")]);
        var tokenizer = Load(json);
        int[] ids = [Id(json, Space + "a"), Byte(0xE2), Byte(0x82), Byte(0xAC)];   // "€" is E2 82 AC
        Assert.Equal(ids, tokenizer.Encode("a\u20AC", addSpecialTokens: false));
        Assert.Equal("<0xE2>", tokenizer.IdToToken(Byte(0xE2)));
        Assert.Equal("a\u20AC", tokenizer.Decode(ids));
        Assert.Equal("a", tokenizer.Decode(ids[..^1]));    // incomplete character at the end: held back
        Assert.Equal("A", tokenizer.Decode([Byte(0x41)]));
        // A run of byte tokens that is not valid UTF-8 becomes one U+FFFD per byte, its valid 'A' included.
        Assert.Equal("\uFFFD\uFFFDb", tokenizer.Decode([Byte(0x41), Byte(0xFF), Id(json, "b")]));
    }

    [Theory]
    [InlineData(true, new[] { 0 })]       // fuse_unk: one unk for the run
    [InlineData(false, new[] { 0, 0 })]   // one unk per character
    public void WithoutByteFallbackUnknownCharactersBecomeUnk(bool fuseUnk, int[] unks)
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a")], byteFallback: false, fuseUnk: fuseUnk);
        var tokenizer = Load(json);
        int a = Id(json, Space + "a"), b = Id(json, "b");
        Assert.Equal([a, .. unks, b], tokenizer.Encode("a\u20AC\u20ACb", addSpecialTokens: false));
        Assert.Equal(0, tokenizer.UnkId);
        Assert.Equal("ab", tokenizer.Decode([a, 0, b]));                                   // <unk> is special
        Assert.Equal("a<unk>b", tokenizer.Decode([a, 0, b], skipSpecialTokens: false));
    }

    [Fact]
    public void WithoutByteFallbackOrUnkTokenUnknownCharactersAreDropped()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a")], byteFallback: false, unkToken: null);
        Assert.Equal([Id(json, Space + "a"), Id(json, "b")], Load(json).Encode("a\u20ACb", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("always", "a<tag>a", true, true)]
    [InlineData("first", "a<tag>a", true, false)]    // only the stretch that begins the input gets '▁'
    [InlineData("never", "a<tag>a", false, false)]
    [InlineData("first", "<tag>a<tag>a", false, false)]
    public void MetaspacePrependSchemeDecidesWhichStretchesGetTheSpace(string scheme, string text, bool firstPrefixed, bool secondPrefixed)
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a")], preTokenizer: Metaspace(scheme), decoder: Metaspace(scheme));
        json["normalizer"] = null;
        var tokenizer = Load(json);
        int plain = Id(json, "a"), prefixed = Id(json, Space + "a");
        int[] expected = [firstPrefixed ? prefixed : plain, 1000, secondPrefixed ? prefixed : plain];
        if (text.StartsWith("<tag>")) expected = [1000, .. expected];
        Assert.Equal(expected, tokenizer.Encode(text, addSpecialTokens: false));
    }

    [Theory]
    [InlineData("always", "a b")]   // the first token's '▁' stands for the prepended space and is dropped
    [InlineData("never", " a b")]
    public void MetaspaceDecoderDropsThePrependedSpace(string scheme, string expected)
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a"), (Space, "b")], preTokenizer: Metaspace(scheme), decoder: Metaspace(scheme));
        Assert.Equal(expected, Load(json).Decode([Id(json, Space + "a"), Id(json, Space + "b")]));
    }

    [Fact]
    public void MetaspaceSplitKeepsMergesWithinWords()
    {
        // "a▁" outranks "▁a": without split "▁a▁b" merges across the word boundary.
        (string, string)[] merges = [("a", Space), (Space, "a"), (Space, "b")];
        var split = SentencePieceStyle(Space + "ab", merges, preTokenizer: Metaspace("always", split: true));
        split["normalizer"] = null;
        Assert.Equal([Id(split, Space + "a"), Id(split, Space + "b")], Load(split).Encode("a b", addSpecialTokens: false));

        var whole = SentencePieceStyle(Space + "ab", merges, preTokenizer: Metaspace("always", split: false));
        whole["normalizer"] = null;
        Assert.Equal([Id(whole, Space), Id(whole, "a" + Space), Id(whole, "b")], Load(whole).Encode("a b", addSpecialTokens: false));
    }

    [Fact]
    public void GemmaThreeShapeReplacesSpacesSoItsSplitNeverCuts()
    {
        // Gemma-3: Replace(" " → "▁") then Split(" ", MergedWithPrevious). The Split sees the normalized text, which
        // has no spaces left, so merges run across words.
        var json = SentencePieceStyle(Space + "ab", [("a", Space), ("a" + Space, "b")],
            normalizer: Replace(" ", Space), preTokenizer: Split("String", " ", "MergedWithPrevious"),
            decoder: SequenceOf("decoders", Replace(Space, " "), Type("ByteFallback"), Type("Fuse")));
        var tokenizer = Load(json);
        Assert.Equal([Id(json, "a" + Space + "b")], tokenizer.Encode("a b", addSpecialTokens: false));
        Assert.Equal([Id(json, Space), Id(json, "a")], tokenizer.Encode(" a", addSpecialTokens: false));   // no dummy prefix
        Assert.Equal(" a b", tokenizer.Decode([Id(json, Space), Id(json, "a" + Space + "b")]));
    }

    [Fact]
    public void RegexReplaceNormalizerRewritesEveryMatch()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "b")],
            normalizer: SequenceOf("normalizers", Replace(" {2,}", " ", kind: "Regex"), Replace(" ", Space)));
        Assert.Equal([Id(json, "a"), Id(json, Space + "b")], Load(json).Encode("a   b", addSpecialTokens: false));
    }

    [Theory]
    [InlineData(true, 1, 0, "a b")]      // Fuse, then strip one leading space from the whole text
    [InlineData(false, 1, 0, "ab")]      // no Fuse: Strip works on each token
    [InlineData(true, 2, 1, " a b ")]    // at most two leading and one trailing
    public void StripRemovesLeadingAndTrailingCopiesOfItsCharacter(bool fuse, int start, int stop, string expected)
    {
        JsonNode[] steps = fuse ? [Replace(Space, " "), Type("Fuse"), Strip(" ", start, stop)] : [Replace(Space, " "), Strip(" ", start, stop)];
        var json = SentencePieceStyle(Space + "ab", [(Space, "a"), (Space, "b")], decoder: SequenceOf("decoders", steps));
        int space = Id(json, Space), a = Id(json, Space + "a"), b = Id(json, Space + "b");
        int[] ids = start == 2 ? [space, space, a, b, space, space] : [a, b];   // "   a b  " when fused
        Assert.Equal(expected, Load(json).Decode(ids));
    }

    [Fact]
    public void ZeroDropoutIsNoDropout()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a")]);
        json["model"]!["dropout"] = 0.0;
        Assert.Equal([Id(json, Space + "a")], Load(json).Encode("a", addSpecialTokens: false));
    }

    [Fact]
    public void GzipCompressedTokenizerJsonLoadsFromFileAndFolder()
    {
        var json = SentencePieceStyle(Space + "ab", [(Space, "a"), (Space, "b")]);
        using var dir = new TempDir();
        using (var gzip = new System.IO.Compression.GZipStream(File.Create(dir.File("tokenizer.json.gz")), System.IO.Compression.CompressionLevel.Optimal))
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()));
        int[] expected = [Id(json, Space + "a"), Id(json, Space + "b")];
        Assert.Equal(expected, TokenizerLoader.FromFolder(dir.Path).Encode("a b", addSpecialTokens: false));
        Assert.Equal(expected, TokenizerLoader.FromFile(dir.File("tokenizer.json.gz")).Encode("a b", addSpecialTokens: false));

        File.WriteAllText(dir.File("tokenizer.json.gz"), "{\"not\": \"gzip\"}");
        var error = Assert.Throws<InvalidFileException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.Equal(dir.File("tokenizer.json.gz"), error.FilePath);
    }
}
