using System.Buffers.Binary;
using System.Text;
using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Save then load: values, order, metadata and bytes survive; F16/BF16 widen to F32 exactly.</summary>
public class SafeTensorsRoundTripTests
{
    private static List<KeyValuePair<string, torch.Tensor>> MixedTensors()
    {
        // [3, 4] -> transposed [4, 3]: a non-contiguous view, saved in its logical (row-major) order.
        var transposed = torch.arange(12, dtype: torch.ScalarType.Float32).reshape(3, 4).t();
        return
        [
            new("z.first.f32.transposed", transposed),
            new("a.f16", torch.tensor(new float[] { 1.5f, -2f, 65504f, 0.000061035156f }).to(torch.ScalarType.Float16)),
            new("m.bf16", torch.tensor(new float[] { 1.5f, -2f, 3.0e38f, -0.0078125f }).to(torch.ScalarType.BFloat16).reshape(2, 2)),
            new("ids.i64", torch.tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue })),
            new("scalar.0d", torch.tensor(3.25f)),
            new("empty", torch.zeros(0, 3)),
            new("f64", torch.tensor(new double[] { Math.PI, -1e-300 })),
            new("i32", torch.tensor(new int[] { int.MinValue, 7 })),
            new("i16", torch.tensor(new short[] { short.MinValue, 7 })),
            new("i8", torch.tensor(new sbyte[] { -128, 127 })),
            new("u8", torch.tensor(new byte[] { 0, 255 })),
            new("bool", torch.tensor(new[] { true, false, true })),
            new("ünï/κ \"quoted\" name", torch.tensor(new float[] { -0f, float.NaN, float.Epsilon })),
        ];
    }

    [Fact]
    public void RoundTripKeepsOrderValuesBitsAndMetadata()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("mixed.safetensors");
        var tensors = MixedTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "naïve \"quoted\" <text>" };

        SafeTensorsFile.Save(path, tensors, metadata);
        var loaded = SafeTensorsFile.Load(path);

        Assert.Equal(tensors.Select(t => t.Key), loaded.Keys);
        foreach (var (name, original) in tensors)
        {
            var copy = loaded[name];
            Assert.Equal(original.dtype, copy.dtype);
            Assert.Equal(original.shape, copy.shape);
            Assert.Equal(RawBytes(original), RawBytes(copy));
        }
        Assert.Equal([4L, 3], loaded["z.first.f32.transposed"].shape);
        Assert.Equal([0f, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11], loaded["z.first.f32.transposed"].data<float>().ToArray());
        Assert.Equal([long.MinValue, -1, 0, 1, long.MaxValue], loaded["ids.i64"].data<long>().ToArray());
        Assert.Empty(loaded["scalar.0d"].shape);
        Assert.Equal(3.25f, loaded["scalar.0d"].item<float>());

        var header = SafeTensorsFile.ReadHeader(path);
        Assert.Equal(metadata.ToList(), header.Metadata.ToList());
        Assert.Equal(tensors.Select(t => t.Key), header.Tensors.Select(t => t.Name));
        Assert.Equal(0, header.HeaderLength % 8); // padded so that the data buffer starts 8-byte aligned
        Assert.Equal(header.DataLength, header.Tensors[^1].End);
    }

    [Fact]
    public void SaveLoadSaveGivesIdenticalBytes()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string first = dir.File("first.safetensors"), second = dir.File("second.safetensors");

        SafeTensorsFile.Save(first, MixedTensors(), new Dictionary<string, string> { ["format"] = "pt", ["b"] = "2", ["a"] = "1" });
        SafeTensorsFile.Save(second, SafeTensorsFile.Load(first), SafeTensorsFile.ReadHeader(first).Metadata);

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    [Fact]
    public void DefaultMetadataIsFormatPtAndHeaderIsCompactJson()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("default.safetensors");
        SafeTensorsFile.Save(path, [new("w", torch.ones(2, 3))]);

        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        Assert.Equal("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
            header.TrimEnd(' '));
        Assert.Equal(8 + headerLength + 24, bytes.Length);
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + headerLength)));
    }

    [Fact]
    public void Float16WidensToFloat32Exactly()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("f16.safetensors");
        // 1.5, -2.0, 65504 (largest normal), 2^-24 (smallest subnormal), 1023 * 2^-24 (largest subnormal), -0.0, +inf
        ushort[] bits = [0x3E00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00];
        float[] expected = [1.5f, -2f, 65504f, (float)Math.ScaleB(1, -24), (float)Math.ScaleB(1023, -24), -0f, float.PositiveInfinity];
        SafeTensorsTestFiles.Write(path,
            Encoding.UTF8.GetBytes("{\"h\":{\"dtype\":\"F16\",\"shape\":[7],\"data_offsets\":[0,14]}}  "),
            SafeTensorsTestFiles.UInt16Bytes(bits));

        var stored = SafeTensorsFile.Load(path)["h"];
        Assert.Equal(torch.ScalarType.Float16, stored.dtype);
        Assert.Equal(SafeTensorsTestFiles.UInt16Bytes(bits), RawBytes(stored));

        var widened = SafeTensorsFile.Load(path, convertTo: torch.ScalarType.Float32)["h"];
        Assert.Equal(torch.ScalarType.Float32, widened.dtype);
        AssertBitsEqual(expected, widened.data<float>().ToArray());
    }

    [Fact]
    public void BFloat16WidensToFloat32Exactly()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("bf16.safetensors");
        // 1.5, -2.0, 1.0078125 (1 + 2^-7), largest finite, 2^-133 (smallest subnormal), -0.0, -inf
        ushort[] bits = [0x3FC0, 0xC000, 0x3F81, 0x7F7F, 0x0001, 0x8000, 0xFF80];
        float[] expected = [1.5f, -2f, 1.0078125f, (float)((2 - Math.ScaleB(1, -7)) * Math.ScaleB(1, 127)),
            (float)Math.ScaleB(1, -133), -0f, float.NegativeInfinity];
        SafeTensorsTestFiles.Write(path,
            Encoding.UTF8.GetBytes("{\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[0,14]}}"),
            SafeTensorsTestFiles.UInt16Bytes(bits));

        var stored = SafeTensorsFile.Load(path)["b"];
        Assert.Equal(torch.ScalarType.BFloat16, stored.dtype);

        var widened = SafeTensorsFile.Load(path, convertTo: torch.ScalarType.Float32)["b"];
        AssertBitsEqual(expected, widened.data<float>().ToArray());
    }

    [Fact]
    public void ConvertToMustBeAFloatingType()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            SafeTensorsFile.Load(RepoPaths.Asset("stories260K-hf", "model.safetensors"), convertTo: torch.ScalarType.Int64));
        Assert.Contains("floating", ex.Message);
    }

    [Fact]
    public void TensorsLoadInFileOrderAndGapsAreRejected()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("order.safetensors");
        var data = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 2.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -7f);
        SafeTensorsTestFiles.Write(path, Encoding.UTF8.GetBytes(
            "{\"second\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}," +
            "\"first\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), data);
        var loaded = SafeTensorsFile.Load(path);
        Assert.Equal(["first", "second"], loaded.Keys); // file (offset) order, not header order
        Assert.Equal(2.5f, loaded["first"].item<float>());
        Assert.Equal(-7f, loaded["second"].item<float>());

        // Bytes 4..8 belonging to no tensor: the format's own reader refuses such a file, and so do we.
        string gap = dir.File("gap.safetensors");
        SafeTensorsTestFiles.Write(gap, Encoding.UTF8.GetBytes(
            "{\"second\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}," +
            "\"first\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), new byte[12]);
        var error = Assert.Throws<InvalidFileException>(() => SafeTensorsFile.Load(gap));
        Assert.Contains("tensor 'second' starts at data offset 8", error.Message);
        Assert.Contains("4 unaccounted byte(s)", error.Message);
    }

    private static byte[] RawBytes(torch.Tensor tensor)
    {
        if (tensor.numel() == 0) return [];
        using var dense = tensor.contiguous();
        return dense.bytes.ToArray();
    }

    private static void AssertBitsEqual(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }
}
