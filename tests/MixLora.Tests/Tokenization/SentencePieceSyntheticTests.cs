using System.Text;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// SentencePiece rules on hand-written tiny models (protobuf written here): merge order by score, user-defined
/// symbols, UNUSED pieces split back, unknown characters, and unsupported model kinds.
/// </summary>
public class SentencePieceSyntheticTests
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5;

    private static readonly (string Piece, float Score, int Type)[] BasePieces =
    [
        ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control),
        ("\u2581", -10, Normal), ("a", -10, Normal), ("b", -10, Normal),
        ("\u2581a", -1, Normal), ("ab", -2, Normal), ("<x>", 0, UserDefined), ("\u2581b", -0.5f, Unused),
    ];

    [Fact]
    public void HigherScoreMergesFirst()
    {
        var tokenizer = Load(BasePieces);
        Assert.Equal([6, 5], tokenizer.Encode("ab", addSpecialTokens: false));   // "▁a" (-1) beats "ab" (-2)
        Assert.Equal([1, 6, 5], tokenizer.Encode("ab"));                        // BOS by default
        Assert.Equal("ab", tokenizer.Decode([1, 6, 5]));
    }

    [Fact]
    public void UserDefinedSymbolsStayWholeAndNeverMerge()
    {
        var tokenizer = Load(BasePieces);
        Assert.Equal([6, 8, 5], tokenizer.Encode("a<x>b", addSpecialTokens: false));
        Assert.Equal("a<x>b", tokenizer.Decode([6, 8, 5]));
    }

    [Fact]
    public void UnusedPiecesAreSplitBackIntoTheirParts()
    {
        // "▁b" is the best merge but UNUSED, so the output spells it as "▁" + "b".
        var tokenizer = Load(BasePieces);
        Assert.Equal([3, 5], tokenizer.Encode("b", addSpecialTokens: false));
    }

    [Fact]
    public void UnknownCharactersWithoutByteFallbackBecomeUnk()
    {
        var tokenizer = Load(BasePieces);
        Assert.Equal([6, 0], tokenizer.Encode("az", addSpecialTokens: false));
        Assert.Equal("a \u2047 ", tokenizer.Decode([6, 0]));
        Assert.Equal(0, tokenizer.UnkId);
    }

    [Fact]
    public void UnigramModelsAreRejected()
    {
        var error = Assert.Throws<MixLoraException>(() => Load(BasePieces, modelType: 1));
        Assert.Contains("unigram", error.Message);
    }

    [Fact]
    public void CompiledNormalizationRulesAreRejected()
    {
        var error = Assert.Throws<MixLoraException>(() => Load(BasePieces, charsMap: [1, 2, 3]));
        Assert.Contains("nmt_nfkc", error.Message);
    }

    [Fact]
    public void ModelWithoutUnknownPieceIsInvalid()
    {
        var error = Assert.Throws<InvalidFileException>(() => Load(BasePieces[1..]));
        Assert.Contains("unknown piece", error.Message);
    }

    private static ITextTokenizer Load((string Piece, float Score, int Type)[] pieces, int modelType = 2, byte[]? charsMap = null)
    {
        var model = new MemoryStream();
        foreach (var (piece, score, type) in pieces)
        {
            var entry = new MemoryStream();
            WriteBytes(entry, 1, Encoding.UTF8.GetBytes(piece));
            WriteKey(entry, 2, 5);
            entry.Write(BitConverter.GetBytes(score));
            WriteKey(entry, 3, 0);
            WriteVarint(entry, (ulong)type);
            WriteBytes(model, 1, entry.ToArray());
        }
        var trainer = new MemoryStream();
        WriteKey(trainer, 3, 0);
        WriteVarint(trainer, (ulong)modelType);
        WriteBytes(model, 2, trainer.ToArray());

        var normalizer = new MemoryStream();
        WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes(charsMap == null ? "identity" : "nmt_nfkc"));
        if (charsMap != null) WriteBytes(normalizer, 2, charsMap);
        WriteKey(normalizer, 4, 0);
        WriteVarint(normalizer, 0);   // remove_extra_whitespaces = false
        WriteBytes(model, 3, normalizer.ToArray());

        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.model"), model.ToArray());
        return TokenizerLoader.FromFolder(dir.Path);
    }

    private static void WriteKey(Stream s, int field, int wireType) => WriteVarint(s, (ulong)(field << 3 | wireType));

    private static void WriteBytes(Stream s, int field, byte[] bytes)
    {
        WriteKey(s, field, 2);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }
}
