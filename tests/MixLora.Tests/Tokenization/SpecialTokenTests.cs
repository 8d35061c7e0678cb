using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>BOS/EOS/PAD resolution, special-token strings in text, the empty string and id lookups.</summary>
public class SpecialTokenTests
{
    [Fact]
    public void Stories260KFolderIsSentencePieceAndAddsBosOne()
    {
        var tokenizer = TokenizerLoader.FromFolder(RepoPaths.Asset("stories260K-hf"));
        Assert.Equal("sentencepiece", tokenizer.Kind);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.True(tokenizer.AddBos);
        Assert.Equal((1, 2, 0), (tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));

        var withoutBos = TokenizerGolden.Cases("tok512").Single(c => c.Text.StartsWith("Once upon")).Ids;
        var ids = tokenizer.Encode("Once upon a time, there was a little girl named Lily.");
        Assert.Equal([1, .. withoutBos], ids);
        Assert.Equal(withoutBos, tokenizer.Encode("Once upon a time, there was a little girl named Lily.", addSpecialTokens: false));
        Assert.Equal("Once upon a time, there was a little girl named Lily.", tokenizer.Decode(ids));
    }

    [Fact]
    public void Llama3AddsBeginOfTextAndNamesEndOfText()
    {
        var tokenizer = TokenizerGolden.Tokenizer("llama3");
        Assert.Equal("byte-level-bpe", tokenizer.Kind);
        Assert.Equal(128256, tokenizer.VocabSize);
        Assert.True(tokenizer.AddBos);
        Assert.Equal(128000, tokenizer.BosId);
        Assert.Equal(128001, tokenizer.EosId);
        Assert.Null(tokenizer.UnkId);

        var ids = tokenizer.Encode("Hello world! This is a test.");
        Assert.Equal([128000, 9906, 1917, 0, 1115, 374, 264, 1296, 13], ids);
        Assert.Equal("Hello world! This is a test.", tokenizer.Decode(ids));
        Assert.Equal("<|begin_of_text|>Hello world! This is a test.", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Qwen3AddsNoBosAndResolvesEosAndPad()
    {
        var tokenizer = TokenizerGolden.Tokenizer("qwen3");
        Assert.Equal("byte-level-bpe", tokenizer.Kind);
        Assert.Equal(151669, tokenizer.VocabSize);
        Assert.False(tokenizer.AddBos);
        Assert.Null(tokenizer.BosId);
        Assert.Equal(151645, tokenizer.EosId);   // <|im_end|>
        Assert.Equal(151643, tokenizer.PadId);   // <|endoftext|>
        Assert.Equal(tokenizer.Encode("A test", addSpecialTokens: false), tokenizer.Encode("A test"));
    }

    [Fact]
    public void Qwen3SpecialTokenStringsInTextMapToTheirIds()
    {
        var tokenizer = TokenizerGolden.Tokenizer("qwen3");
        var ids = tokenizer.Encode("<|im_start|>user\nHi there<|im_end|>\n<think>ok</think>", addSpecialTokens: false);

        var expected = new List<int> { 151644 };
        expected.AddRange(tokenizer.Encode("user\nHi there", addSpecialTokens: false));
        expected.Add(151645);
        expected.AddRange(tokenizer.Encode("\n", addSpecialTokens: false));
        expected.Add(151667);
        expected.AddRange(tokenizer.Encode("ok", addSpecialTokens: false));
        expected.Add(151668);
        Assert.Equal(expected, ids);

        // <|im_start|>/<|im_end|> are special and skipped; <think> is an added but not special token and stays.
        Assert.Equal("user\nHi there\n<think>ok</think>", tokenizer.Decode(ids));
        Assert.Equal("<|im_start|>user\nHi there<|im_end|>\n<think>ok</think>", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Llama3BeginOfTextInTextIsOneToken()
    {
        var tokenizer = TokenizerGolden.Tokenizer("llama3");
        Assert.Equal([128000, 9906], tokenizer.Encode("<|begin_of_text|>Hello", addSpecialTokens: false));
        // A partial special token is ordinary text.
        Assert.DoesNotContain(128000, tokenizer.Encode("<|begin_of_text|", addSpecialTokens: false));
    }

    [Fact]
    public void SentencePieceControlTokensInTextStayLiteral()
    {
        var tokenizer = TokenizerLoader.FromFolder(RepoPaths.Asset("stories260K-hf"));
        var ids = tokenizer.Encode("<s> hi", addSpecialTokens: false);
        Assert.DoesNotContain(1, ids);
        Assert.Equal("<s> hi", tokenizer.Decode(ids));
    }

    [Fact]
    public void SentencePieceAddedTokensFromTokenizerConfigAreMatchedInText()
    {
        using var dir = new TempDir();
        File.Copy(RepoPaths.Asset("stories260K", "tok512.model"), dir.File("tokenizer.model"));
        File.WriteAllText(dir.File("tokenizer_config.json"), """
            {"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "<|im_end|>", "pad_token": null,
             "add_bos_token": false,
             "added_tokens_decoder": {
               "1": {"content": "<s>", "special": true},
               "512": {"content": "<|im_start|>", "special": true},
               "513": {"content": "<|im_end|>", "special": true}}}
            """);
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.Equal(514, tokenizer.VocabSize);
        Assert.False(tokenizer.AddBos);
        Assert.Equal((1, 513), (tokenizer.BosId, tokenizer.EosId));
        Assert.Equal("<|im_start|>", tokenizer.IdToToken(512));

        var hi = tokenizer.Encode("hi", addSpecialTokens: false);
        var ids = tokenizer.Encode("<|im_start|>hi<s><|im_end|>");
        Assert.Equal([512, .. hi, 1, 513], ids);
        Assert.Equal("hi", tokenizer.Decode(ids));
        // Each text segment gets its own dummy prefix ("▁hi"), which shows as a space once text precedes it.
        Assert.Equal("<|im_start|> hi<s><|im_end|>", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Theory]
    [InlineData("llama2", new int[0], new[] { 1 })]
    [InlineData("tok512", new int[0], new[] { 1 })]
    [InlineData("qwen3", new int[0], new int[0])]
    [InlineData("llama3", new int[0], new[] { 128000 })]
    public void EmptyStringEncodesToNothingOrBosOnly(string model, int[] withoutSpecial, int[] withSpecial)
    {
        var tokenizer = TokenizerGolden.Tokenizer(model);
        Assert.Equal(withoutSpecial, tokenizer.Encode("", addSpecialTokens: false));
        Assert.Equal(withSpecial, tokenizer.Encode(""));
        Assert.Equal("", tokenizer.Decode([]));
        Assert.Equal("", tokenizer.Decode(withSpecial));
    }

    [Fact]
    public void IdToTokenReturnsVocabularyEntriesAndNullOutsideIt()
    {
        var llama2 = TokenizerGolden.Tokenizer("llama2");
        Assert.Equal("<s>", llama2.IdToToken(1));
        Assert.Equal("<0x0A>", llama2.IdToToken(13));
        Assert.Equal("\u2581A", llama2.IdToToken(319));
        Assert.Null(llama2.IdToToken(32000));
        Assert.Null(llama2.IdToToken(-1));

        var qwen3 = TokenizerGolden.Tokenizer("qwen3");
        Assert.Equal("<|im_start|>", qwen3.IdToToken(151644));
        Assert.Equal("\u0120A", qwen3.IdToToken(362));   // " A" in the byte-level alphabet
        Assert.Null(qwen3.IdToToken(151669));
    }

    [Fact]
    public void DecodeIgnoresIdsOutsideTheVocabulary()
    {
        var qwen3 = TokenizerGolden.Tokenizer("qwen3");
        Assert.Equal(" A B", qwen3.Decode([362, 151900, -5, 425]));   // padded embedding rows have no token
        var llama2 = TokenizerGolden.Tokenizer("llama2");
        Assert.Equal("A", llama2.Decode([319, 40000]));
    }

    [Fact]
    public void FromFileWithConfigMatchesFromFolder()
    {
        var folder = TokenizerGolden.Tokenizer("llama3");
        var file = TokenizerLoader.FromFile(RepoPaths.Asset("tokenizers", "llama3", "tokenizer.json"), RepoPaths.Asset("tokenizers", "llama3", "tokenizer_config.json"));
        Assert.Equal((folder.BosId, folder.EosId, folder.AddBos), (file.BosId, file.EosId, file.AddBos));
        Assert.Equal(folder.Encode("Tabs\tand\r\nwindows"), file.Encode("Tabs\tand\r\nwindows"));
    }

    [Fact]
    public void ByteLevelFileWithoutConfigAddsNoBos()
    {
        // llama3's tokenizer.json alone: a ByteLevel post-processor and no tokenizer_config.json to name a BOS.
        var tokenizer = TokenizerLoader.FromFile(RepoPaths.Asset("tokenizers", "llama3", "tokenizer.json"));
        Assert.False(tokenizer.AddBos);
        Assert.Equal([9906], tokenizer.Encode("Hello"));
    }
}
