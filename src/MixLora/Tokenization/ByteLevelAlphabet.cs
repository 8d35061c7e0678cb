using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// GPT-2's reversible byte to character mapping used by byte-level BPE: printable Latin-1 bytes map to
/// themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) to U+0100 onwards in byte order, so every
/// token is a string of visible characters (a space becomes 'Ġ', a newline 'Ċ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[256 + 68];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }

    /// <summary>The byte-level form of a text: its UTF-8 bytes, each shown as one character.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text)];
        Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(bytes.Length, bytes, static (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++) chars[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>
    /// Appends the bytes a token stands for. A token with a character outside the alphabet (an added token such
    /// as one containing a plain space) stands for its own UTF-8 bytes, as in Hugging Face's ByteLevel decoder.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            if (c >= CharToByte.Length || CharToByte[c] < 0)
            {
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }
        foreach (char c in token) output.Add((byte)CharToByte[c]);
    }
}
