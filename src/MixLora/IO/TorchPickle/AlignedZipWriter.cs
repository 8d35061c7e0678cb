using System.Buffers.Binary;
using System.Text;

namespace MixLora.IO;

/// <summary>
/// Writes a zip archive of STORED entries whose data start on 64-byte boundaries, the way PyTorch's writer does:
/// the local header's extra field carries the padding (id "FB", filled with 'Z'); the central directory's extra
/// field is empty. CRC and sizes go in the local header (no data descriptors). No ZIP64: over 4 GB is refused.
/// </summary>
internal sealed class AlignedZipWriter
{
    public const int Alignment = 64;
    private const int LocalHeaderSize = 30;
    private const ushort VersionNeeded = 20;
    private const ushort Utf8NamesFlag = 0x0800;
    private const ushort DosDate1980January1 = (0 << 9) | (1 << 5) | 1; // fixed timestamp: identical bytes on every save

    private readonly Stream _output;
    private readonly string _path;
    private readonly List<(byte[] Name, uint Crc, uint Size, uint Offset)> _entries = [];
    private long _position;

    /// <param name="output">A fresh stream written from its start.</param>
    /// <param name="path">The file being written, for error messages.</param>
    public AlignedZipWriter(Stream output, string path)
    {
        _output = output;
        _path = path;
    }

    public void AddEntry(string name, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var headerOffset = CheckedUInt32(_position);
        var size = CheckedUInt32(data.Length);

        // The data starts after header + name + extra; pad with at least 4 bytes (the extra field's own id and length).
        var unpaddedStart = _position + LocalHeaderSize + nameBytes.Length;
        var padding = (int)((Alignment - unpaddedStart % Alignment) % Alignment);
        if (padding < 4) padding += Alignment;

        Span<byte> header = stackalloc byte[LocalHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], VersionNeeded);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], Flags(name));
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 0); // method: stored
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0); // time 00:00
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], DosDate1980January1);
        var crc = Crc32.Compute(data);
        BinaryPrimitives.WriteUInt32LittleEndian(header[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(header[18..], size);
        BinaryPrimitives.WriteUInt32LittleEndian(header[22..], size);
        BinaryPrimitives.WriteUInt16LittleEndian(header[26..], checked((ushort)nameBytes.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)padding);

        var extra = new byte[padding];
        extra[0] = (byte)'F';
        extra[1] = (byte)'B';
        BinaryPrimitives.WriteUInt16LittleEndian(extra.AsSpan(2), (ushort)(padding - 4));
        extra.AsSpan(4).Fill((byte)'Z');

        Write(header);
        Write(nameBytes);
        Write(extra);
        Write(data);
        _entries.Add((nameBytes, crc, size, headerOffset));
    }

    /// <summary>Writes the central directory and the end record; the archive is complete afterwards.</summary>
    public void Finish()
    {
        if (_entries.Count > ushort.MaxValue) throw new MixLoraException($"{_path}: {_entries.Count} zip entries need ZIP64, which is not supported");
        var directoryOffset = CheckedUInt32(_position);
        Span<byte> header = stackalloc byte[46];
        foreach (var (name, crc, size, offset) in _entries)
        {
            header.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], VersionNeeded); // made by: version 2.0, MS-DOS attributes
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], VersionNeeded);
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], Flags(Encoding.UTF8.GetString(name)));
            BinaryPrimitives.WriteUInt16LittleEndian(header[14..], DosDate1980January1);
            BinaryPrimitives.WriteUInt32LittleEndian(header[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(header[20..], size);
            BinaryPrimitives.WriteUInt32LittleEndian(header[24..], size);
            BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)name.Length);
            // extra length, comment length, disk, internal and external attributes stay 0
            BinaryPrimitives.WriteUInt32LittleEndian(header[42..], offset);
            Write(header);
            Write(name);
        }
        var directorySize = CheckedUInt32(_position - directoryOffset);

        Span<byte> end = stackalloc byte[22];
        end.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], directorySize);
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], directoryOffset);
        Write(end);
        CheckedUInt32(_position);
    }

    private static ushort Flags(string name) => Ascii.IsValid(name) ? (ushort)0 : Utf8NamesFlag;

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _output.Write(bytes);
        _position += bytes.Length;
    }

    private uint CheckedUInt32(long value) => value <= uint.MaxValue
        ? (uint)value
        : throw new MixLoraException($"{_path}: the file would exceed 4 GB, which needs ZIP64 (not supported yet)");
}
