namespace MixLora.IO;

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as used by zip entries.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>The CRC of <paramref name="data"/>; pass the CRC of the preceding bytes to continue a running one.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crcOfPrecedingBytes = 0)
    {
        var crc = ~crcOfPrecedingBytes;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}
