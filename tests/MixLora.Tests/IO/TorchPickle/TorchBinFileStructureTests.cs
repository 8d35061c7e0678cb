using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>The bytes our writer produces: zip layout as PyTorch's, pickle structure as Python's pickler.</summary>
public sealed class TorchBinFileStructureTests
{
    [Fact]
    public void Save_ZipLayout_MatchesGoldenEntriesStoredAndAligned()
    {
        using var temp = new TempDir();
        var path = temp.File("adapter_model.bin");
        var golden = TorchBinFile.Load(TorchBinFileGoldenTests.GoldenBin);
        try
        {
            TorchBinFile.Save(path, golden);
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(golden);
        }

        var ours = ZipTestFiles.Layout(path);
        var theirs = ZipTestFiles.Layout(TorchBinFileGoldenTests.GoldenBin);
        // Same entries in the same order: data.pkl, data/0, data/1, data/10, data/100, …, version.
        Assert.Equal(theirs.Select(e => e.Name), ours.Select(e => e.Name));
        Assert.Equal("adapter_model/data.pkl", ours[0].Name);
        Assert.Equal(["adapter_model/data/0", "adapter_model/data/1", "adapter_model/data/10"], ours.Skip(1).Take(3).Select(e => e.Name));
        Assert.Equal("adapter_model/version", ours[^1].Name);
        Assert.All(ours, entry =>
        {
            Assert.Equal(0, entry.CompressionMethod);
            Assert.Equal(0, entry.DataOffset % 64);
            Assert.Equal(0, entry.CentralExtraLength);
        });
        Assert.Equal(theirs.Select(e => e.Size), ours.Select(e => e.Size));
        Assert.All(theirs, entry => Assert.Equal(0, entry.DataOffset % 64)); // the helper agrees with PyTorch's file
        Assert.Equal("3\n"u8.ToArray(), ZipTestFiles.ReadEntry(path, "adapter_model/version"));
    }

    [Fact]
    public void Save_Pickle_HasGoldenOpcodeStructure()
    {
        using var temp = new TempDir();
        var path = temp.File("adapter_model.bin");
        var golden = TorchBinFile.Load(TorchBinFileGoldenTests.GoldenBin);
        try
        {
            TorchBinFile.Save(path, golden);
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(golden);
        }
        var goldenPickle = ZipTestFiles.ReadEntry(TorchBinFileGoldenTests.GoldenBin, "adapter_model/data.pkl");
        var ourPickle = ZipTestFiles.ReadEntry(path, "adapter_model/data.pkl");
        Assert.Equal(PickleDisassembler.OpcodeKinds(goldenPickle), PickleDisassembler.OpcodeKinds(ourPickle));
        Assert.Equal(PickleDisassembler.Disassemble(goldenPickle), PickleDisassembler.Disassemble(ourPickle));
    }

    [Fact]
    public void Save_MixedDtypes_UsesStorageTypeGlobalsAndPythonTupleAndIntEncodings()
    {
        using var temp = new TempDir();
        var path = temp.File("mixed.bin");
        var tensors = new List<KeyValuePair<string, torch.Tensor>>
        {
            new("a", torch.zeros(2, 3, 4, 50, dtype: torch.ScalarType.BFloat16)), // 4 dims: MARK … TUPLE; numel 1200: BININT2
            new("b", torch.tensor(1.5f)),                                        // 0-d: EMPTY_TUPLE, numel 1
            new("c", torch.zeros(70000, dtype: torch.ScalarType.Int64)),         // numel needs BININT
            new("d", torch.zeros(2, dtype: torch.ScalarType.BFloat16)),
        };
        try
        {
            TorchBinFile.Save(path, tensors);
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(tensors);
        }
        var code = PickleDisassembler.Disassemble(ZipTestFiles.ReadEntry(path, "mixed/data.pkl"));
        var globals = code.Where(i => i.Opcode == 'c').Select(i => i.Argument).ToList();
        Assert.Equal(["collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch BFloat16Storage", "torch FloatStorage", "torch LongStorage"], globals);
        Assert.Contains(code, i => i.Opcode == 'J' && i.Argument == "70000");
        Assert.Contains(code, i => i.Opcode == 'M' && i.Argument == "1200");
        var afterScalarKey = code.SkipWhile(i => i.Argument != "b").ToList();
        var persid = afterScalarKey.FindIndex(i => i.Opcode == 'Q');
        Assert.Equal([(byte)'K', (byte)')', (byte)')', 0x89], afterScalarKey.Skip(persid + 1).Take(4).Select(i => i.Opcode));
        Assert.Equal((byte)'u', code[^2].Opcode);
        Assert.Equal((byte)'.', code[^1].Opcode);
    }

    [Fact]
    public void Save_MoreThan1000Tensors_BatchesSetItemsLikePython()
    {
        using var temp = new TempDir();
        var path = temp.File("many.bin");
        var tensors = Enumerable.Range(0, 1001).Select(i => new KeyValuePair<string, torch.Tensor>($"t{i}", torch.tensor((float)i))).ToList();
        try
        {
            TorchBinFile.Save(path, tensors);
            var code = PickleDisassembler.Disassemble(ZipTestFiles.ReadEntry(path, "many/data.pkl"));
            Assert.Single(code, i => i.Opcode == 'u');   // first 1000 items
            Assert.Single(code, i => i.Opcode == 's');   // the last one alone
            Assert.Contains(code, i => i.Opcode == 'r');  // memo slots beyond 255 use LONG_BINPUT
            Assert.Contains(code, i => i.Opcode == 'j' || i.Opcode == 'h');
            var loaded = TorchBinFile.Load(path);
            Assert.Equal(tensors.Select(t => t.Key), loaded.Keys);
            Assert.Equal(1000f, loaded["t1000"].item<float>());
            TorchBinFileGoldenTests.Dispose(loaded);
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(tensors);
        }
    }

    [Fact]
    public void Save_FailingMidway_LeavesExistingFileAndNoTempFile()
    {
        using var temp = new TempDir();
        var path = temp.File("adapter_model.bin");
        File.WriteAllText(path, "previous content");
        // A meta tensor has a shape but no data: the writer fails when it reaches its storage, after data.pkl.
        var tensors = new List<KeyValuePair<string, torch.Tensor>>
        {
            new("ok", torch.ones(3)),
            new("no.data", torch.empty(new long[] { 4 }, device: torch.META)),
        };
        try
        {
            Assert.ThrowsAny<Exception>(() => TorchBinFile.Save(path, tensors));
            Assert.Equal("previous content", File.ReadAllText(path));
            Assert.Equal([path], Directory.GetFiles(temp.Path));
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(tensors);
        }
    }

    [Fact]
    public void Save_UnsupportedDtypeOrDuplicateName_IsRefusedBeforeWriting()
    {
        using var temp = new TempDir();
        var path = temp.File("x.bin");
        using var complex = torch.zeros(2, dtype: torch.ScalarType.ComplexFloat32);
        using var plain = torch.zeros(2);
        var complexError = Assert.Throws<ArgumentException>(() => TorchBinFile.Save(path, [new("z", complex)]));
        Assert.Contains("'z'", complexError.Message);
        var duplicateError = Assert.Throws<ArgumentException>(() => TorchBinFile.Save(path, [new("w", plain), new("w", plain)]));
        Assert.Contains("'w' appears twice", duplicateError.Message);
        Assert.Empty(Directory.GetFiles(temp.Path));
    }
}
