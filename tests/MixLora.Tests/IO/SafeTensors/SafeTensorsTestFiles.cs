using System.Buffers.Binary;
using System.Text;

namespace MixLora.Tests.IO;

/// <summary>Builds safetensors files byte by byte, independently of the writer under test.</summary>
internal static class SafeTensorsTestFiles
{
    /// <summary>Writes the 8-byte length (the real one unless <paramref name="declaredHeaderLength"/>), the header and the data.</summary>
    public static void Write(string path, byte[] header, byte[] data, ulong? declaredHeaderLength = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Writes a file whose header is <paramref name="json"/> (UTF-8) followed by <paramref name="dataLength"/> data bytes.</summary>
    public static void Write(string path, string json, int dataLength) =>
        Write(path, Encoding.UTF8.GetBytes(json), new byte[dataLength]);

    /// <summary>Little-endian bytes of 16-bit patterns (F16 / BF16 raw values).</summary>
    public static byte[] UInt16Bytes(params ushort[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), values[i]);
        return bytes;
    }
}
