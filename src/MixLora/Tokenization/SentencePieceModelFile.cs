namespace MixLora.Tokenization;

/// <summary>Piece types of SentencePiece's ModelProto.SentencePiece.Type.</summary>
internal enum SentencePieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

internal readonly record struct SentencePieceEntry(string Piece, float Score, SentencePieceType Type);

/// <summary>The parts of a SentencePiece <c>tokenizer.model</c> (ModelProto) that encoding and decoding need.</summary>
internal sealed class SentencePieceModelFile
{
    /// <summary>TrainerSpec.ModelType values.</summary>
    public const int ModelTypeUnigram = 1, ModelTypeBpe = 2;

    // Refuse absurd files before reading them whole; real models are a few MB.
    private const long MaxFileBytes = 512L * 1024 * 1024;

    public required string FilePath { get; init; }
    public required IReadOnlyList<SentencePieceEntry> Pieces { get; init; }
    public int ModelType { get; init; } = ModelTypeUnigram;
    public bool ByteFallback { get; init; }
    public bool TreatWhitespaceAsSuffix { get; init; }
    public string UnkSurface { get; init; } = " \u2047 ";
    public string UnkPiece { get; init; } = "<unk>";
    public string BosPiece { get; init; } = "<s>";
    public string EosPiece { get; init; } = "</s>";
    public string PadPiece { get; init; } = "<pad>";
    public string NormalizerName { get; init; } = "";
    public int PrecompiledCharsMapLength { get; init; }
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;
    public bool EscapeWhitespaces { get; init; } = true;

    public static SentencePieceModelFile Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new MixLoraException($"{path}: SentencePiece model file not found");
        if (info.Length == 0) throw new InvalidFileException(path, "SentencePiece model file is empty");
        if (info.Length > MaxFileBytes) throw new InvalidFileException(path, $"{info.Length} bytes is too large for a SentencePiece model");
        return Parse(File.ReadAllBytes(path), path);
    }

    public static SentencePieceModelFile Parse(byte[] data, string path)
    {
        var reader = new ProtobufReader(data, path);
        var pieces = new List<SentencePieceEntry>();
        var trainer = new Dictionary<int, object>();
        var normalizer = new Dictionary<int, object>();
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadKey();
            switch (field)
            {
                case 1:
                    reader.Expect(ProtobufReader.WireLengthDelimited, wire, "pieces");
                    pieces.Add(ReadPiece(reader.ReadMessage(), path, pieces.Count));
                    break;
                case 2:
                    reader.Expect(ProtobufReader.WireLengthDelimited, wire, "trainer_spec");
                    ReadScalars(reader.ReadMessage(), trainer);
                    break;
                case 3:
                    reader.Expect(ProtobufReader.WireLengthDelimited, wire, "normalizer_spec");
                    ReadScalars(reader.ReadMessage(), normalizer);
                    break;
                default:
                    reader.SkipField(wire);
                    break;
            }
        }
        if (pieces.Count == 0) throw new InvalidFileException(path, "SentencePiece model has no pieces");

        return new SentencePieceModelFile
        {
            FilePath = path,
            Pieces = pieces,
            ModelType = Int(trainer, 3, ModelTypeUnigram),
            ByteFallback = Int(trainer, 35, 0) != 0,
            TreatWhitespaceAsSuffix = Int(trainer, 24, 0) != 0,
            UnkSurface = Text(trainer, 44, " \u2047 "),
            UnkPiece = Text(trainer, 45, "<unk>"),
            BosPiece = Text(trainer, 46, "<s>"),
            EosPiece = Text(trainer, 47, "</s>"),
            PadPiece = Text(trainer, 48, "<pad>"),
            NormalizerName = Text(normalizer, 1, ""),
            PrecompiledCharsMapLength = normalizer.TryGetValue(2, out var map) && map is byte[] bytes ? bytes.Length : 0,
            AddDummyPrefix = Int(normalizer, 3, 1) != 0,
            RemoveExtraWhitespaces = Int(normalizer, 4, 1) != 0,
            EscapeWhitespaces = Int(normalizer, 5, 1) != 0,
        };
    }

    private static SentencePieceEntry ReadPiece(ProtobufReader message, string path, int index)
    {
        string? piece = null;
        float score = 0;
        int type = (int)SentencePieceType.Normal;
        while (!message.AtEnd)
        {
            var (field, wire) = message.ReadKey();
            if (field == 1 && wire == ProtobufReader.WireLengthDelimited) piece = message.ReadString();
            else if (field == 2 && wire == ProtobufReader.WireFixed32) score = message.ReadFloat();
            else if (field == 3 && wire == ProtobufReader.WireVarint) type = message.ReadInt32();
            else message.SkipField(wire);
        }
        if (string.IsNullOrEmpty(piece)) throw new InvalidFileException(path, $"piece {index} has an empty text");
        if (type < 1 || type > 6) throw new InvalidFileException(path, $"piece {index} ('{piece}') has unknown type {type}");
        return new SentencePieceEntry(piece, score, (SentencePieceType)type);
    }

    /// <summary>Collects varint and string/bytes fields of a flat message by field number (last one wins).</summary>
    private static void ReadScalars(ProtobufReader message, Dictionary<int, object> values)
    {
        while (!message.AtEnd)
        {
            var (field, wire) = message.ReadKey();
            if (wire == ProtobufReader.WireVarint) values[field] = message.ReadVarint();
            else if (wire == ProtobufReader.WireLengthDelimited) values[field] = message.ReadBytes();
            else message.SkipField(wire);
        }
    }

    private static int Int(Dictionary<int, object> values, int field, int fallback) =>
        values.TryGetValue(field, out var v) && v is ulong u ? unchecked((int)u) : fallback;

    private static string Text(Dictionary<int, object> values, int field, string fallback) =>
        values.TryGetValue(field, out var v) && v is byte[] b ? System.Text.Encoding.UTF8.GetString(b) : fallback;
}
