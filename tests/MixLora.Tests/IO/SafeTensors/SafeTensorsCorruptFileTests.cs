using System.Text;
using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Every malformed file is rejected with an <see cref="InvalidFileException"/> naming the file and the problem.</summary>
public class SafeTensorsCorruptFileTests
{
    // Two valid entries over 24 + 16 = 40 data bytes; the cases below change one thing each.
    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
    private const string B = "\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]}";

    public static TheoryData<string, string, int, string[]> BadHeaders => new()
    {
        { "malformed JSON", "{" + A + ",\"b\":{", 40, ["not valid JSON"] },
        { "not an object", "[1, 2]", 40, ["must be an object", "found a list"] },
        { "trailing garbage", "{" + A + "} x", 40, ["not valid JSON"] },
        { "entry not an object", "{\"a\":5}", 40, ["tensor 'a'", "must be an object", "found a number"] },
        { "missing dtype", "{\"a\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", 40, ["tensor 'a'", "missing 'dtype'"] },
        { "missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", 40, ["tensor 'a'", "missing 'shape'"] },
        { "missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", 40, ["tensor 'a'", "missing 'data_offsets'"] },
        { "unknown dtype", "{" + A.Replace("F32", "F128") + "}", 40, ["tensor 'a'", "unknown dtype 'F128'", "BF16"] },
        { "lower-case dtype", "{" + A.Replace("F32", "f32") + "}", 40, ["tensor 'a'", "unknown dtype 'f32'"] },
        { "dtype not a string", "{" + A.Replace("\"F32\"", "32") + "}", 40, ["tensor 'a'", "'dtype' must be a string"] },
        { "negative dim", "{" + A.Replace("[2,3]", "[-2,3]") + "}", 40, ["tensor 'a'", "'shape'", "negative (-2)"] },
        { "string dim", "{" + A.Replace("[2,3]", "[\"2\",3]") + "}", 40, ["tensor 'a'", "'shape' value 0 is \"2\"", "non-negative integer"] },
        { "fractional dim", "{" + A.Replace("[2,3]", "[2.5,3]") + "}", 40, ["tensor 'a'", "'shape' value 0 is 2.5"] },
        { "shape not an array", "{" + A.Replace("[2,3]", "6") + "}", 40, ["tensor 'a'", "'shape' must be an array", "found a number"] },
        { "offsets mismatch shape", "{" + A.Replace("[0,24]", "[0,20]") + "}", 40, ["tensor 'a'", "cover 20 bytes", "needs 24 bytes"] },
        { "offsets reversed", "{" + A.Replace("[0,24]", "[24,0]") + "}", 40, ["tensor 'a'", "begin <= end"] },
        { "three offsets", "{" + A.Replace("[0,24]", "[0,12,24]") + "}", 40, ["tensor 'a'", "[begin, end]", "found 3 values"] },
        { "negative offset", "{" + A.Replace("[0,24]", "[-8,16]") + "}", 40, ["tensor 'a'", "'data_offsets' value 0 is negative"] },
        { "offsets out of range", "{" + A + "," + B + "}", 32, ["tensor 'b'", "[24, 40]", "beyond the data buffer of 32 bytes"] },
        { "overlap", "{" + A + "," + B.Replace("[24,40]", "[16,32]") + "}", 40, ["'a'", "'b'", "overlap"] },
        { "duplicate tensor", "{" + A + "," + A + "}", 40, ["'a' appears more than once"] },
        { "duplicate field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 40,
            ["tensor 'a'", "'dtype' appears more than once"] },
        { "shape overflows", "{" + A.Replace("[2,3]", "[4611686018427387904,4]") + "}", 40, ["tensor 'a'", "overflows 64 bits"] },
        { "metadata value not a string", "{\"__metadata__\":{\"format\":1}," + A + "}", 40,
            ["'__metadata__' key 'format' must map to a string", "found a number"] },
        { "metadata not an object", "{\"__metadata__\":[\"pt\"]," + A + "}", 40, ["'__metadata__' must be an object", "found a list"] },
        { "duplicate metadata", "{\"__metadata__\":{},\"__metadata__\":{}," + A + "}", 40, ["'__metadata__' appears more than once"] },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void BadHeaderIsRejectedWithAHint(string label, string json, int dataLength, string[] hints)
    {
        using var dir = new TempDir();
        string path = dir.File(label.Replace(' ', '-') + ".safetensors");
        SafeTensorsTestFiles.Write(path, json, dataLength);

        AssertRejected(path, hints);
    }

    [Fact]
    public void InvalidUtf8HeaderIsRejected()
    {
        using var dir = new TempDir();
        string path = dir.File("latin1.safetensors");
        byte[] header = Encoding.UTF8.GetBytes("{\"caf\u00e9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        header[5] = 0xE9; // Latin-1 'é' in place of the first UTF-8 byte: an invalid sequence
        SafeTensorsTestFiles.Write(path, header, new byte[1]);

        AssertRejected(path, ["not valid UTF-8"]);
    }

    [Theory]
    [InlineData(0, "0 bytes", "8-byte header length")]
    [InlineData(5, "5 bytes", "8-byte header length")]
    [InlineData(7, "7 bytes", "8-byte header length")]
    [InlineData(8, "exceeds", "truncated")]
    [InlineData(40, "exceeds", "truncated")]
    [InlineData(-1, "tensor 'z.first.f32.transposed'", "beyond the data buffer")] // inside the last tensor's data
    [InlineData(-30, "beyond the data buffer", "truncated")]
    public void TruncatedFileIsRejected(int keepBytes, string hint1, string hint2)
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("truncated.safetensors");
        SafeTensorsFile.Save(path, [new("a", torch.ones(4)), new("z.first.f32.transposed", torch.ones(3, 4))]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(keepBytes >= 0 ? keepBytes : bytes.Length + keepBytes)]);

        AssertRejected(path, [hint1, hint2]);
    }

    [Theory]
    [InlineData(1UL << 62, "implausible")]
    [InlineData(ulong.MaxValue, "implausible")]
    [InlineData(100_000_001UL, "implausible")]
    [InlineData(1000UL, "exceeds")]
    public void HeaderLengthBeyondTheFileIsRejectedWithoutAllocating(ulong declaredLength, string hint)
    {
        using var dir = new TempDir();
        string path = dir.File("length.safetensors");
        SafeTensorsTestFiles.Write(path, Encoding.UTF8.GetBytes("{" + A + "}"), new byte[24], declaredLength);

        AssertRejected(path, [hint, declaredLength.ToString()]);
    }

    [Fact]
    public void BoolDataOtherThanZeroOrOneIsRejectedOnLoad()
    {
        using var dir = new TempDir();
        string path = dir.File("bool.safetensors");
        SafeTensorsTestFiles.Write(path, Encoding.UTF8.GetBytes("{\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}"),
            [1, 0, 2]);

        Assert.Single(SafeTensorsFile.ReadHeader(path).Tensors);
        var ex = Assert.Throws<InvalidFileException>(() => SafeTensorsFile.Load(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("tensor 'mask'", ex.Message);
        Assert.Contains("other than 0 and 1", ex.Message);
    }

    [Fact]
    public void DTypeWithoutTorchEquivalentIsListedButNotLoadable()
    {
        using var dir = new TempDir();
        string path = dir.File("u16.safetensors");
        SafeTensorsTestFiles.Write(path, "{\"u\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);

        Assert.Equal(SafeTensorsDType.U16, SafeTensorsFile.ReadHeader(path).Tensors[0].DType);
        var ex = Assert.Throws<InvalidFileException>(() => SafeTensorsFile.Load(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("tensor 'u'", ex.Message);
        Assert.Contains("no TorchSharp equivalent", ex.Message);
    }

    /// <summary>Both the header reader and the loader reject the file, with the path and every hint in the message.</summary>
    private static void AssertRejected(string path, string[] hints)
    {
        foreach (var read in new Action[] { () => SafeTensorsFile.ReadHeader(path), () => SafeTensorsFile.Load(path) })
        {
            var ex = Assert.Throws<InvalidFileException>(read);
            Assert.Equal(path, ex.FilePath);
            Assert.StartsWith(path + ": ", ex.Message);
            foreach (var hint in hints) Assert.Contains(hint, ex.Message);
        }
    }
}
