using System.Text;

namespace MixLora.IO;

/// <summary>
/// Reads a text file that must be UTF-8. File.ReadAllText silently turns invalid bytes into U+FFFD, so a Latin-1 or
/// UTF-16 data file would train on replacement characters; here it is an error naming the line and the byte.
/// </summary>
public static class Utf8TextFile
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <exception cref="InvalidFileException">The file cannot be read or is not valid UTF-8.</exception>
    public static string Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException(path, $"cannot be read: {e.Message}", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes UTF-8 (a leading byte-order mark is dropped); <paramref name="path"/> names the source in errors.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            int at = Math.Clamp(e.Index, 0, bytes.Length - 1);
            var before = bytes[..at];
            int line = before.Count((byte)'\n') + 1;
            int column = at - (before.LastIndexOf((byte)'\n') + 1) + 1;
            var hint = bytes.Length >= 2 && (bytes[0], bytes[1]) is (0xFF, 0xFE) or (0xFE, 0xFF) ? " (it looks like UTF-16; save it as UTF-8)" : "";
            throw new InvalidFileException(path, $"not UTF-8 text: invalid byte 0x{bytes[at]:X2} at line {line}, byte {column}{hint}", e);
        }
    }
}
