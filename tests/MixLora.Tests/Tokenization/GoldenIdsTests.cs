using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>Every golden string of every bundled tokenizer: exact ids without special tokens, and decoded text.</summary>
public class GoldenIdsTests
{
    public static TheoryData<string, int> AllCases => TokenizerGolden.CaseRows("llama2", "tok512", "qwen3", "llama3", "gemma3");

    [Theory]
    [MemberData(nameof(AllCases))]
    public void EncodeMatchesReferenceIds(string model, int index)
    {
        var golden = TokenizerGolden.Cases(model)[index];
        var ids = TokenizerGolden.Tokenizer(model).Encode(golden.Text, addSpecialTokens: false);
        Assert.Equal(golden.Ids, ids);
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void DecodeMatchesReferenceText(string model, int index)
    {
        var golden = TokenizerGolden.Cases(model)[index];
        Assert.Equal(golden.Decoded, TokenizerGolden.Tokenizer(model).Decode(golden.Ids));
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("tok512")]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("gemma3")]
    public void GoldenCoversEveryTestString(string model)
    {
        var strings = TokenizerGolden.Strings();
        Assert.Equal(26, strings.Count);
        Assert.Equal(strings, TokenizerGolden.Cases(model).Select(c => c.Text));
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("tok512")]
    public void SentencePieceSpecialIdsMatchReference(string model)
    {
        var reference = TokenizerGolden.SpmModel(model);
        var tokenizer = TokenizerGolden.Tokenizer(model);
        Assert.Equal("sentencepiece", tokenizer.Kind);
        Assert.Equal(reference.GetProperty("vocab_size").GetInt32(), tokenizer.VocabSize);
        Assert.Equal(reference.GetProperty("bos_id").GetInt32(), tokenizer.BosId);
        Assert.Equal(reference.GetProperty("eos_id").GetInt32(), tokenizer.EosId);
        Assert.Equal(reference.GetProperty("unk_id").GetInt32(), tokenizer.UnkId);
        Assert.Null(tokenizer.PadId);
    }
}
