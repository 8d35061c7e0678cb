using MixLora.IO.Gguf;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO.Gguf;

/// <summary>Our GGUF writer and validating reader: round trips, and hostile files rejected without large allocations.</summary>
public class GgufFileTests
{
    private static readonly KeyValuePair<string, object>[] Metadata =
    [
        new("general.architecture", "llama"), new("general.alignment", 32u), new("llama.block_count", 5u),
        new("llama.rope.freq_base", 10000f), new("general.flag", true), new("llama.context_length", 512L),
        new("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>", "▁a" }), new("tokenizer.ggml.scores", new[] { 0f, 0f, 0f, -1.5f }),
        new("tokenizer.ggml.token_type", new[] { 2, 3, 3, 1 }),
    ];

    private static string WriteSample(TempDir dir, GgmlType type = GgmlType.F32)
    {
        var path = dir.File("model.gguf");
        using var a = arange(12, dtype: ScalarType.Float32).reshape(3, 4) / 7;      // [3, 4]
        using var b = tensor(new[] { 1.5f, -2f, 0.25f });                            // [3]
        GgufWriter.Write(path, Metadata, [new("a.weight", a), new("b.bias", b)], type);
        return path;
    }

    [Theory]
    [InlineData(GgmlType.F32, 0.0)]
    [InlineData(GgmlType.F16, 1e-3)]
    public void WrittenFilesReadBack(GgmlType type, double tolerance)
    {
        using var dir = new TempDir();
        var path = WriteSample(dir, type);
        var header = GgufReader.ReadHeader(path);
        Assert.Equal(3u, header.Version);
        Assert.Equal(Metadata.Select(kv => kv.Key), header.Metadata.Keys);
        Assert.Equal("llama", header.Metadata["general.architecture"]);
        Assert.Equal(5u, header.Metadata["llama.block_count"]);
        Assert.Equal(512L, header.Metadata["llama.context_length"]);
        Assert.Equal(new object[] { "<unk>", "<s>", "</s>", "▁a" }, (List<object>)header.Metadata["tokenizer.ggml.tokens"]);
        Assert.Equal(new object[] { 0f, 0f, 0f, -1.5f }, (List<object>)header.Metadata["tokenizer.ggml.scores"]);
        Assert.Equal(["a.weight", "b.bias"], header.Tensors.Select(t => t.Name));
        Assert.Equal([4UL, 3UL], header.Tensors[0].Dims);                          // ggml order: innermost first
        Assert.All(header.Tensors, t => Assert.Equal(0UL, t.Offset % 32));
        using var a = GgufTensors.Load(path, header, header.Tensors[0]);
        using var expected = arange(12, dtype: ScalarType.Float32).reshape(3, 4) / 7;
        TensorAssert.Close(expected, a, tolerance, "a.weight");
        using var b = GgufTensors.Load(path, header, header.Tensors[1]);
        TensorAssert.Close(tensor(new[] { 1.5f, -2f, 0.25f }), b, 0, "b.bias");
    }

    /// <summary>Builds a file from raw parts, for the hostile cases.</summary>
    private static string Raw(TempDir dir, Action<BinaryWriter> body)
    {
        var path = dir.File("bad.gguf");
        using (var w = new BinaryWriter(File.Create(path))) body(w);
        return path;
    }

    private static void Str(BinaryWriter w, string s) { var b = System.Text.Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }

    public static TheoryData<string, string> Hostile => new()
    {
        { "magic", "not a GGUF file" },
        { "version", "GGUF version 9 is not supported" },
        { "tensor count", "tensor count 1152921504606846976 cannot fit" },
        { "string length", "needs 4611686018427387904 bytes but only" },
        { "array length", "array length 1099511627776 cannot fit" },
        { "unknown value type", "unknown value type 99" },
        { "unknown tensor type", "unknown ggml type 77" },
        { "outside", "lie outside the" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void HostileHeadersAreRejectedClearly(string label, string expected)
    {
        using var dir = new TempDir();
        var path = Raw(dir, w =>
        {
            w.Write(label == "magic" ? 0x46554746u : 0x46554747u);
            w.Write(label == "version" ? 9u : 3u);
            w.Write(label == "tensor count" ? 1UL << 60 : (label is "unknown tensor type" or "outside" ? 1UL : 0UL));
            w.Write(1UL);
            if (label == "string length") { w.Write(1UL << 62); w.Write(new byte[64]); return; }
            Str(w, "k");
            if (label == "array length") { w.Write((uint)GgufValueType.Array); w.Write((uint)GgufValueType.UInt8); w.Write(1UL << 40); w.Write(new byte[64]); return; }
            w.Write(label == "unknown value type" ? 99u : (uint)GgufValueType.UInt32);
            w.Write(7u);
            if (label is "unknown tensor type" or "outside")
            {
                Str(w, "t");
                w.Write(1u);
                w.Write(1024UL);
                w.Write(label == "unknown tensor type" ? 77u : 0u);
                w.Write(0UL);
            }
            w.Write(new byte[64]);
        });
        var error = Assert.Throws<InvalidFileException>(() => GgufReader.ReadHeader(path));
        Assert.Contains(expected, error.Message);
        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void TruncationsAndRandomDamageAreRejectedOrReadNeverCrash()
    {
        using var dir = new TempDir();
        var good = File.ReadAllBytes(WriteSample(dir));
        var header = GgufReader.ReadHeader(dir.File("model.gguf"));
        var path = dir.File("damaged.gguf");
        // Every truncation before the last tensor's last byte is an InvalidFileException (padding after it is optional).
        long end = header.DataStart + (long)header.Tensors.Max(t => t.Offset + t.ByteSize);
        for (int n = 0; n < end; n += 3)
        {
            File.WriteAllBytes(path, good[..n]);
            Assert.Throws<InvalidFileException>(() => GgufReader.ReadHeader(path));
        }
        // Random byte damage in the header: either still a valid header or one clear error; never another exception.
        var random = new Random(5);
        int rejected = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var damaged = (byte[])good.Clone();
            for (int k = 0; k < 3; k++) damaged[random.Next((int)header.DataStart)] = (byte)random.Next(256);
            File.WriteAllBytes(path, damaged);
            try { GgufReader.ReadHeader(path); }
            catch (InvalidFileException) { rejected++; }
        }
        Assert.InRange(rejected, 100, 300);
    }

    [Fact]
    public void InfoDescribesAGgufFileAndNamesAProblem()
    {
        using var dir = new TempDir();
        var path = WriteSample(dir, GgmlType.F16);
        var result = MixLora.Tests.Cli.CliRunner.Run("info", path);
        Assert.True(result.ExitCode == 0, result.Err);
        var text = System.Text.RegularExpressions.Regex.Replace(result.Out, @"\x1b\[[0-9;]*m", "");
        Assert.Matches(@"architecture\s+│ llama", text);
        Assert.Matches(@"layers\s+│ 5", text);
        Assert.Matches(@"tensors\s+│ 2: 2 F16", text);
        Assert.Matches(@"parameters\s+│ 15", text);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..40]);
        var truncated = MixLora.Tests.Cli.CliRunner.Run("info", path);
        Assert.Equal(1, truncated.ExitCode);
        Assert.Contains("(truncated or corrupt)", truncated.Err);
    }
}
