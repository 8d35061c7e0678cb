using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// A minimal reader for the protobuf wire format, enough for SentencePiece's ModelProto. Every read is bounds
/// checked and reports truncation or corruption as an <see cref="InvalidFileException"/> naming the file.
/// </summary>
internal sealed class ProtobufReader
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly byte[] _data;
    private readonly string _filePath;
    private int _position;
    private readonly int _end;

    public ProtobufReader(byte[] data, string filePath) : this(data, filePath, 0, data.Length) { }

    private ProtobufReader(byte[] data, string filePath, int start, int end)
    {
        _data = data;
        _filePath = filePath;
        _position = start;
        _end = end;
    }

    public bool AtEnd => _position >= _end;

    /// <summary>Reads the next field key; returns the field number and wire type.</summary>
    public (int Field, int WireType) ReadKey()
    {
        ulong key = ReadVarint();
        int field = (int)(key >> 3);
        if (field <= 0 || key >> 3 > int.MaxValue) throw Corrupt($"invalid field number {key >> 3}");
        return (field, (int)(key & 7));
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _end) throw Corrupt("truncated varint");
            byte b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Corrupt("varint longer than 10 bytes");
    }

    public bool ReadBool() => ReadVarint() != 0;

    /// <summary>Reads an int32 varint (negative values are sign-extended to 10 bytes on the wire).</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public float ReadFloat()
    {
        Require(4, "float");
        float value = BitConverter.ToSingle(_data, _position);
        _position += 4;
        return value;
    }

    public string ReadString()
    {
        int length = ReadLength();
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(_data, _position - length, length);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidFileException(_filePath, $"string at byte {_position - length} is not valid UTF-8", e);
        }
    }

    public byte[] ReadBytes()
    {
        int length = ReadLength();
        return _data.AsSpan(_position - length, length).ToArray();
    }

    /// <summary>Returns a reader over an embedded message and moves past it.</summary>
    public ProtobufReader ReadMessage()
    {
        int length = ReadLength();
        return new ProtobufReader(_data, _filePath, _position - length, _position);
    }

    public void SkipField(int wireType)
    {
        switch (wireType)
        {
            case WireVarint: ReadVarint(); break;
            case WireFixed64: Require(8, "fixed64"); _position += 8; break;
            case WireLengthDelimited: ReadLength(); break;
            case WireFixed32: Require(4, "fixed32"); _position += 4; break;
            default: throw Corrupt($"unsupported wire type {wireType}");
        }
    }

    /// <summary>Checks that a field has the wire type its schema declares.</summary>
    public void Expect(int wireType, int actualWireType, string fieldName)
    {
        if (wireType != actualWireType)
            throw Corrupt($"field '{fieldName}' has wire type {actualWireType}, expected {wireType}");
    }

    private int ReadLength()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_end - _position)) throw Corrupt($"length {length} runs past the end of the data");
        _position += (int)length;
        return (int)length;
    }

    private void Require(int count, string what)
    {
        if (_end - _position < count) throw Corrupt($"truncated {what}");
    }

    private InvalidFileException Corrupt(string problem) =>
        new(_filePath, $"not a valid SentencePiece model (protobuf {problem} at byte {_position})");
}
