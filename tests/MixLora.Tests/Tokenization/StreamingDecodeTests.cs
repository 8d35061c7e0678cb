namespace MixLora.Tests.Tokenization;

/// <summary>
/// Decoding a growing id list, as generation does: each prefix's text extends the previous one, incomplete UTF-8
/// at the end is held back (never U+FFFD), and invalid bytes in the middle become U+FFFD.
/// </summary>
public class StreamingDecodeTests
{
    public static TheoryData<string, int> CasesWithoutCleanUp => TokenizerGolden.CaseRows("llama2", "tok512", "qwen3", "gemma3");

    [Theory]
    [MemberData(nameof(CasesWithoutCleanUp))]
    public void DecodedPrefixesGrowByAppendingOnly(string model, int index)
    {
        var tokenizer = TokenizerGolden.Tokenizer(model);
        var ids = TokenizerGolden.Cases(model)[index].Ids;
        string previous = "";
        for (int k = 1; k <= ids.Length; k++)
        {
            string text = tokenizer.Decode(ids[..k]);
            Assert.StartsWith(previous, text, StringComparison.Ordinal);
            Assert.DoesNotContain('\uFFFD', text);
            previous = text;
        }
    }

    [Fact]
    public void Llama3PrefixesGrowByAppendingOnlyOutsideCleanUp()
    {
        // llama3 enables clean_up_tokenization_spaces, which may delete a printed space before "?" or "."; its
        // other golden strings still decode append-only.
        var tokenizer = TokenizerGolden.Tokenizer("llama3");
        foreach (var golden in TokenizerGolden.Cases("llama3").Where(c => c.Text == c.Decoded))
        {
            string previous = "";
            for (int k = 1; k <= golden.Ids.Length; k++)
            {
                string text = tokenizer.Decode(golden.Ids[..k]);
                Assert.StartsWith(previous, text, StringComparison.Ordinal);
                Assert.DoesNotContain('\uFFFD', text);
                previous = text;
            }
        }
    }

    [Fact]
    public void SentencePieceHoldsBackAnIncompleteByteSequence()
    {
        var llama2 = TokenizerGolden.Tokenizer("llama2");
        int[] rocket = [243, 162, 157, 131];   // <0xF0> <0x9F> <0x9A> <0x80>
        Assert.Equal("", llama2.Decode(rocket[..3]));
        Assert.Equal("\U0001F680", llama2.Decode(rocket));
        // Not at the end: each invalid byte becomes U+FFFD (SentencePiece's rule), then "▁A" decodes as " A".
        Assert.Equal("\uFFFD\uFFFD A", llama2.Decode([243, 162, 319]));
    }

    [Fact]
    public void ByteLevelHoldsBackAnIncompleteByteSequence()
    {
        var qwen3 = TokenizerGolden.Tokenizer("qwen3");
        // A rare CJK Extension B character, split over several byte-level tokens.
        var ids = qwen3.Encode("\U0002A6A5", addSpecialTokens: false);
        Assert.True(ids.Count > 1, $"expected several byte-level tokens, got {ids.Count}");
        Assert.Equal("", qwen3.Decode(ids.Take(ids.Count - 1)));
        Assert.Equal("\U0002A6A5", qwen3.Decode(ids));

        // 'ð' is the byte F0. F0 F0 'A': the first F0 is invalid (one U+FFFD per maximal invalid part, like
        // Rust's from_utf8_lossy); alone at the end, the second is held back.
        Assert.Equal("\u00F0", qwen3.IdToToken(172));
        Assert.Equal("\uFFFD", qwen3.Decode([172, 172]));
        Assert.Equal("\uFFFD\uFFFDA", qwen3.Decode([172, 172, 32]));
    }

    [Fact]
    public void LoneSurrogatesAreEncodedAsReplacementCharacters()
    {
        var qwen3 = TokenizerGolden.Tokenizer("qwen3");
        Assert.Equal(qwen3.Encode("a\uFFFDb"), qwen3.Encode("a\uD800b"));
        var llama2 = TokenizerGolden.Tokenizer("llama2");
        Assert.Equal(llama2.Encode("a\uFFFDb"), llama2.Encode("a\uDC00b"));
    }
}
