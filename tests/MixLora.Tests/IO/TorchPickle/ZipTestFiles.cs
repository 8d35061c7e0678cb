using System.Buffers.Binary;
using System.IO.Compression;

namespace MixLora.Tests.IO;

/// <summary>Test helper: builds small zip files and inspects zip entries' local headers.</summary>
internal static class ZipTestFiles
{
    /// <summary>Writes a zip with the given entries (STORED, in order) using .NET's writer.</summary>
    public static void Write(string path, params (string Name, byte[] Data)[] entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            stream.Write(data);
        }
    }

    public static byte[] ReadEntry(string path, string name)
    {
        using var zip = ZipFile.OpenRead(path);
        using var stream = zip.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public sealed record EntryLayout(string Name, int CompressionMethod, long DataOffset, long Size, int CentralExtraLength);

    /// <summary>Walks the central directory and each local header to find where each entry's data starts.</summary>
    public static List<EntryLayout> Layout(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var end = bytes.Length - 22;
        Assert.Equal(0x06054b50u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end)));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(end + 10));
        var at = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end + 16));
        var result = new List<EntryLayout>();
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(0x02014b50u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
            int method = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 10));
            long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 24));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 28));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 30));
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 32));
            var local = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 42));
            var name = System.Text.Encoding.UTF8.GetString(bytes, at + 46, nameLength);
            Assert.Equal(0x04034b50u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(local)));
            int localNameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(local + 26));
            int localExtraLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(local + 28));
            result.Add(new EntryLayout(name, method, local + 30 + localNameLength + localExtraLength, size, extraLength));
            at += 46 + nameLength + extraLength + commentLength;
        }
        return result;
    }
}
