using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Save then load: same names, order, dtypes, shapes and bytes.</summary>
public sealed class TorchBinFileRoundTripTests
{
    private static List<KeyValuePair<string, torch.Tensor>> MixedTensors()
    {
        torch.manual_seed(7);
        var wide = torch.randn(4, 6);
        return
        [
            new("float32.matrix", torch.randn(3, 5)),
            new("bfloat16.matrix", torch.randn(4, 2).to(torch.ScalarType.BFloat16)),
            new("float16.vector", torch.randn(7).to(torch.ScalarType.Float16)),
            new("int64.arange", torch.arange(-3, 300, dtype: torch.ScalarType.Int64)),
            new("transposed.view", wide.t()),                        // non-contiguous [6, 4]
            new("strided.slice", wide[1].slice(0, 1, 6, 2)),         // offset + stride 2, [3]
            new("row.view", wide[2]),                                 // contiguous but at storage offset 12, [6]
            new("scalar", torch.tensor(3.25f)),                       // 0-d
            new("empty", torch.empty(0, 3)),
            new("bool.mask", torch.tensor(new[] { true, false, true })),
            new("int32.four.dims", torch.arange(2 * 3 * 1 * 2, dtype: torch.ScalarType.Int32).reshape(2, 3, 1, 2)),
        ];
    }

    [Fact]
    public void SaveThenLoad_MixedDtypesAndViews_AreBitExactInOrder()
    {
        using var temp = new TempDir();
        var path = temp.File("adapter_model.bin");
        var saved = MixedTensors();
        TorchBinFile.Save(path, saved);
        var loaded = TorchBinFile.Load(path);
        try
        {
            Assert.Equal(saved.Select(p => p.Key), loaded.Keys);
            foreach (var (name, original) in saved)
            {
                var actual = loaded[name];
                Assert.Equal(original.dtype, actual.dtype);
                Assert.Equal(original.shape, actual.shape);
                Assert.True(actual.is_contiguous());
                using var expected = original.contiguous();
                Assert.True(expected.bytes.SequenceEqual(actual.bytes), $"{name} differs after the round trip");
                Assert.True(original.eq(actual).all().item<bool>(), $"{name} differs element-wise after the round trip");
            }
            Assert.Equal(3.25f, loaded["scalar"].item<float>());
            Assert.Equal(new[] { 6L, 4L }, loaded["transposed.view"].shape);
            Assert.Equal(saved[4].Value[5, 2].item<float>(), loaded["transposed.view"][5, 2].item<float>());
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(saved);
            TorchBinFileGoldenTests.Dispose(loaded);
        }
    }

    [Fact]
    public void Load_WithConvertToFloat32_WidensHalfTypesAndKeepsIntegers()
    {
        using var temp = new TempDir();
        var path = temp.File("model.bin");
        var saved = MixedTensors();
        TorchBinFile.Save(path, saved);
        var loaded = TorchBinFile.Load(path, torch.ScalarType.Float32);
        try
        {
            Assert.Equal(torch.ScalarType.Float32, loaded["bfloat16.matrix"].dtype);
            Assert.Equal(torch.ScalarType.Float32, loaded["float16.vector"].dtype);
            Assert.Equal(torch.ScalarType.Int64, loaded["int64.arange"].dtype);
            Assert.Equal(torch.ScalarType.Bool, loaded["bool.mask"].dtype);
            using var widened = saved[1].Value.to(torch.ScalarType.Float32);
            Assert.True(widened.bytes.SequenceEqual(loaded["bfloat16.matrix"].bytes));
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(saved);
            TorchBinFileGoldenTests.Dispose(loaded);
        }
    }

    [Fact]
    public void Save_Twice_WritesIdenticalBytes()
    {
        using var temp = new TempDir();
        var saved = MixedTensors();
        try
        {
            Directory.CreateDirectory(temp.File("a"));
            Directory.CreateDirectory(temp.File("b"));
            TorchBinFile.Save(temp.File("a/adapter_model.bin"), saved);
            TorchBinFile.Save(temp.File("b/adapter_model.bin"), saved);
            Assert.Equal(File.ReadAllBytes(temp.File("a/adapter_model.bin")), File.ReadAllBytes(temp.File("b/adapter_model.bin")));
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(saved);
        }
    }

    [Fact]
    public void SaveOfLoadedGolden_ReproducesGoldenPickleAndStoragesExactly()
    {
        using var temp = new TempDir();
        var path = temp.File("adapter_model.bin");
        var golden = TorchBinFile.Load(TorchBinFileGoldenTests.GoldenBin);
        try
        {
            TorchBinFile.Save(path, golden);
            // The pickle is byte-identical to PyTorch's, memo numbering included.
            Assert.Equal(ZipTestFiles.ReadEntry(TorchBinFileGoldenTests.GoldenBin, "adapter_model/data.pkl"),
                         ZipTestFiles.ReadEntry(path, "adapter_model/data.pkl"));
            foreach (var key in new[] { "0", "7", "164" })
            {
                Assert.Equal(ZipTestFiles.ReadEntry(TorchBinFileGoldenTests.GoldenBin, $"adapter_model/data/{key}"),
                             ZipTestFiles.ReadEntry(path, $"adapter_model/data/{key}"));
            }
            var reloaded = TorchBinFile.Load(path);
            try
            {
                Assert.Equal(golden.Keys, reloaded.Keys);
                foreach (var (name, tensor) in golden) Assert.True(tensor.bytes.SequenceEqual(reloaded[name].bytes), name);
            }
            finally
            {
                TorchBinFileGoldenTests.Dispose(reloaded);
            }
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(golden);
        }
    }

    [Fact]
    public void Load_SharedStorageWithOffsetAndStride_GivesIndependentContiguousTensors()
    {
        using var temp = new TempDir();
        var path = temp.File("shared.bin");
        var storage = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var pickle = TestPickleBuilder.StateDict(
            ("whole", b => b.Tensor("0", 12, 0, [12], [1])),
            ("view", b => b.Tensor("0", 12, 2, [2, 3], [1, 2])));   // view[i][j] = storage[2 + i + 2j]
        ZipTestFiles.Write(path, ("archive/data.pkl", pickle),
            ("archive/data/0", storage.SelectMany(BitConverter.GetBytes).ToArray()), ("archive/version", "3\n"u8.ToArray()));

        var loaded = TorchBinFile.Load(path);
        try
        {
            Assert.Equal(new[] { 2f, 4f, 6f, 3f, 5f, 7f }, loaded["view"].data<float>().ToArray());
            Assert.True(loaded["view"].is_contiguous());
            Assert.Equal(storage, loaded["whole"].data<float>().ToArray());
            loaded["whole"].fill_(-1f);
            Assert.Equal(2f, loaded["view"][0, 0].item<float>()); // owns its memory
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(loaded);
        }
    }
}
