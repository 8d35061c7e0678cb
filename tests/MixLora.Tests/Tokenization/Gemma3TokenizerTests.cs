using MixLora.Export;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// Gemma-3's SentencePiece-style tokenizer.json (assets/tokenizers/gemma3: tokenizer.json.gz and
/// tokenizer_config.json) beyond the 26 golden strings: special ids, BOS, byte fallback and special tokens in text.
/// </summary>
public class Gemma3TokenizerTests
{
    private static ITextTokenizer Gemma3 => TokenizerGolden.Tokenizer("gemma3");

    [Fact]
    public void SpecialIdsComeFromTokenizerConfig()
    {
        var reference = TokenizerGolden.Gemma3Reference;
        Assert.Equal("sentencepiece-json", Gemma3.Kind);
        Assert.Equal(262_145, Gemma3.VocabSize);    // 262,144 pieces and the added <image_soft_token>
        Assert.True(Gemma3.AddBos);
        Assert.Equal(reference.GetProperty("bos_id").GetInt32(), Gemma3.BosId);
        // tokenizer_config.json names <end_of_turn> as eos_token (instruction-tuned checkpoints stop there).
        Assert.Equal(reference.GetProperty("eos_token_ids").GetProperty("<end_of_turn>").GetInt32(), Gemma3.EosId);
        Assert.Equal(0, Gemma3.PadId);
        Assert.Equal(3, Gemma3.UnkId);
        Assert.Equal("<eos>", Gemma3.IdToToken(reference.GetProperty("eos_token_ids").GetProperty("<eos>").GetInt32()));
    }

    [Fact]
    public void EncodingWithSpecialTokensPutsBosFirst()
    {
        var golden = TokenizerGolden.Gemma3Reference.GetProperty("hello_with_special_tokens");
        string text = golden.GetProperty("text").GetString()!;
        int[] ids = golden.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(ids, Gemma3.Encode(text));
        Assert.Equal(text, Gemma3.Decode(ids));
        Assert.Equal("<bos>" + text, Gemma3.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void CharacterOutsideTheVocabularyBecomesItsUtf8ByteTokens()
    {
        // U+10FFFD (F4 8F BF BD) has no piece; "<0x00>" is id 238, so "<0xNN>" is 238 + NN.
        int[] ids = [238 + 0xF4, 238 + 0x8F, 238 + 0xBF, 238 + 0xBD];
        Assert.Equal("<0xF4>", Gemma3.IdToToken(ids[0]));
        Assert.Equal(ids, Gemma3.Encode("\U0010FFFD", addSpecialTokens: false));
        Assert.Equal("\U0010FFFD", Gemma3.Decode(ids));
        Assert.Equal("", Gemma3.Decode(ids[..3]));
    }

    [Fact]
    public void SpecialTokensInTextAreMatchedBeforeTheRest()
    {
        // Each stretch between added tokens is tokenized on its own ("\n" is an added token too).
        string text = "<start_of_turn>user\nHi<end_of_turn>";
        int[] expected = [105, .. Gemma3.Encode("user", addSpecialTokens: false), 107, .. Gemma3.Encode("Hi", addSpecialTokens: false), 106];
        Assert.Equal(expected, Gemma3.Encode(text, addSpecialTokens: false));
        Assert.Equal(text, Gemma3.Decode(expected, skipSpecialTokens: false));
        Assert.Equal("user\nHi", Gemma3.Decode(expected));
    }

    [Fact]
    public void CuttingPiecesIntoWordsKeepsTheIdsOfWholePieces()
    {
        // Gemma-3 never splits a line, so the BPE model cuts it before '▁' where no merge can cross (WordCuts);
        // merging every line whole must give the same ids. Lines of a real test set plus awkward made-up ones
        // around its one crossing token ">▁</", unknown characters and '▁' runs.
        string path = RepoPaths.Asset("tokenizers", "gemma3", "tokenizer.json.gz");
        using var document = JsonFileReader.Parse(path);
        var json = TokenizerJson.Read(document.RootElement, path);
        var cut = new BpeModel(json);
        var whole = new BpeModel(json, cutIntoWords: false);
        var lines = File.ReadLines(RepoPaths.Asset("commonsense", "ARC-Challenge", "test.json")).Take(3000)
            .Concat(TokenizerGolden.Strings())
            .Concat(["<b> </b> x> </y", "a􏿽 b 􏿽􏿽  c", ">  </ >	</", "▁▁x ▁ y", "東京 🚀 > <"]);
        int compared = 0;
        foreach (var line in lines)
        {
            string piece = json.Normalizer(line);
            List<int> byWords = [], byPiece = [];
            cut.Encode(piece, byWords);
            whole.Encode(piece, byPiece);
            Assert.True(byPiece.SequenceEqual(byWords), $"different ids for: {line}");
            compared++;
        }
        Assert.Equal(3031, compared);
    }

    [Fact]
    public void GgufExportAsksForTheSentencePieceModel()
    {
        var error = Assert.Throws<MixLoraException>(() => GgufVocabulary.Metadata(RepoPaths.Asset("tokenizers", "gemma3"), 262_208));
        Assert.Contains("tokenizer.model", error.Message);
        Assert.Contains("sentencepiece-json", error.Message);
    }
}
