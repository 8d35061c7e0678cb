using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Malicious, corrupt and truncated files: each is refused with an InvalidFileException naming the file.</summary>
public sealed class TorchBinFileHostileTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly byte[] SixteenFloats = new byte[16 * 4];

    /// <summary>A zip shaped like torch.save output around the given pickle, with one storage "0" of 16 floats.</summary>
    private string FileWithPickle(byte[] pickle, byte[]? storage = null)
    {
        var path = _temp.File($"hostile-{Guid.NewGuid():N}.bin");
        ZipTestFiles.Write(path, ("archive/data.pkl", pickle), ("archive/data/0", storage ?? SixteenFloats), ("archive/version", "3\n"u8.ToArray()));
        return path;
    }

    private static InvalidFileException AssertRefused(string path, params string[] messageParts)
    {
        var error = Assert.Throws<InvalidFileException>(() => TorchBinFile.Load(path));
        Assert.Equal(path, error.FilePath);
        Assert.StartsWith(path + ": ", error.Message);
        foreach (var part in messageParts) Assert.Contains(part, error.Message);
        return error;
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("subprocess", "call")]
    public void Load_GlobalCommandWithReduce_IsRefusedAndNothingRuns(string module, string function)
    {
        var marker = _temp.File("pwned");
        var pickle = new TestPickleBuilder().Proto2().Global(module, function).Unicode($"touch {marker}").Op(0x85).Op('R').Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), $"pickle global {module}.{function} is not allowed (only tensor state dicts are accepted)", "byte 2");
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Load_BuiltinsEval_IsRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Global("builtins", "eval").Unicode("1+1").Op(0x85).Op('R').Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), "pickle global builtins.eval is not allowed");
    }

    [Fact]
    public void Load_StackGlobalOfOsSystem_IsRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Unicode("os").Unicode("system").Op(0x93).Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), "pickle global os.system is not allowed");
    }

    [Fact]
    public void Load_UnknownOpcode_IsRefused()
    {
        AssertRefused(FileWithPickle(new TestPickleBuilder().Proto2().Op(0xff).Op('.').ToArray()), "unknown opcode 0xff", "byte 2");
    }

    [Theory]
    [InlineData((byte)'i', "INST (0x69)")]
    [InlineData((byte)'o', "OBJ (0x6f)")]
    [InlineData((byte)0x81, "NEWOBJ (0x81)")]
    [InlineData((byte)'R', "REDUCE (0x52) pops from an empty stack")]
    public void Load_ObjectBuildingOpcodes_AreRefused(byte opcode, string expected)
    {
        var pickle = new TestPickleBuilder().Proto2().Op(opcode).Op(System.Text.Encoding.ASCII.GetBytes("os\nsystem\n")).Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), expected);
    }

    [Fact]
    public void Load_BuildOnAnythingButADict_IsRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Unicode("target").Op('}').Op('b').Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), "pickle opcode BUILD (0x62) is not allowed here");
    }

    [Fact]
    public void Load_CallingAStorageClass_IsRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Global("torch", "FloatStorage").Op(')').Op('R').Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), "REDUCE calls a torch.FloatStorage, which is not allowed");
    }

    [Fact]
    public void Load_TruncatedZip_IsRefused()
    {
        var path = _temp.File("half.bin");
        var golden = File.ReadAllBytes(TorchBinFileGoldenTests.GoldenBin);
        File.WriteAllBytes(path, golden[..(golden.Length / 2)]);
        AssertRefused(path, "not a readable torch.save zip archive");
    }

    [Theory]
    [InlineData(100)]        // inside data.pkl
    [InlineData(100_000)]    // inside a storage
    public void Load_FlippedByteInsideAnEntry_FailsTheChecksum(int position)
    {
        var path = _temp.File("flipped.bin");
        var bytes = File.ReadAllBytes(TorchBinFileGoldenTests.GoldenBin);
        bytes[position] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        AssertRefused(path, "fails its CRC-32 check");
    }

    [Fact]
    public void Load_ZipWithoutDataPkl_IsRefused()
    {
        var path = _temp.File("nopickle.bin");
        ZipTestFiles.Write(path, ("archive/version", "3\n"u8.ToArray()), ("archive/data/0", SixteenFloats));
        AssertRefused(path, "no <archive>/data.pkl entry");
    }

    [Fact]
    public void Load_DuplicateStorageEntries_AreRefused()
    {
        var path = _temp.File("twice.bin");
        var pickle = TestPickleBuilder.StateDict(("w", b => b.Tensor("0", 16, 0, [16], [1])));
        ZipTestFiles.Write(path, ("archive/data.pkl", pickle), ("archive/data/0", SixteenFloats), ("archive/data/0", new byte[64]));
        AssertRefused(path, "two entries named archive/data/0");
    }

    [Fact]
    public void Load_LegacyNonZipFormat_IsNamedAsSuch()
    {
        var path = _temp.File("legacy.bin");
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        AssertRefused(path, "legacy (before 1.6) non-zip torch.save format");
    }

    [Fact]
    public void Load_DeeplyNestedMarks_AreRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Op(Enumerable.Repeat((byte)'(', 10_000).ToArray()).Op('.').ToArray();
        AssertRefused(FileWithPickle(pickle), "MARKs are nested more than 100 deep");
    }

    [Fact]
    public void Load_MissingFile_IsRefused()
    {
        AssertRefused(_temp.File("absent.bin"), "file does not exist");
    }

    [Fact]
    public void Load_StorageEntryShorterThanDeclared_IsRefused()
    {
        var pickle = TestPickleBuilder.StateDict(("w", b => b.Tensor("0", 16, 0, [4, 4], [4, 1])));
        AssertRefused(FileWithPickle(pickle, storage: new byte[40]),
            "storage '0' needs 16 x FloatStorage = 64 bytes but archive/data/0 holds only 40 bytes");
    }

    [Fact]
    public void Load_HugeElementCount_IsRefusedBeforeAllocating()
    {
        var pickle = TestPickleBuilder.StateDict(("w", b => b.Tensor("0", int.MaxValue, 0, [int.MaxValue], [1])));
        AssertRefused(FileWithPickle(pickle), "storage '0' needs 2147483647 x FloatStorage", "holds only 64 bytes");
    }

    [Fact]
    public void Load_StorageKeyWithoutEntry_IsRefused()
    {
        var pickle = TestPickleBuilder.StateDict(("w", b => b.Tensor("9", 16, 0, [16], [1])));
        AssertRefused(FileWithPickle(pickle), "storage '9' has no zip entry data/9");
    }

    [Theory]
    [InlineData(10, new long[] { 4, 4 }, new long[] { 4, 1 }, "reaches element 25 of storage '0', which holds only 16 elements")]
    [InlineData(0, new long[] { 4, 4 }, new long[] { 5, 1 }, "reaches element 18 of storage '0'")]
    [InlineData(0, new long[] { 32 }, new long[] { 0 }, "has more elements than its storage '0'")]
    public void Load_TensorOutsideItsStorage_IsRefused(long offset, long[] size, long[] stride, string expected)
    {
        var pickle = TestPickleBuilder.StateDict(("layer.weight", b => b.Tensor("0", 16, offset, size, stride)));
        AssertRefused(FileWithPickle(pickle), "tensor 'layer.weight'", expected);
    }

    [Fact]
    public void Load_BinUnicodeLongerThanThePickle_IsRefused()
    {
        var pickle = new TestPickleBuilder().Proto2().Op('X').Op(BitConverter.GetBytes(int.MaxValue)).Op("abc"u8.ToArray()).ToArray();
        AssertRefused(FileWithPickle(pickle), "BINUNICODE (0x58) needs 2147483647 bytes but only 3 remain (truncated)");
    }

    [Fact]
    public void Load_PickleWithoutStop_IsRefused()
    {
        AssertRefused(FileWithPickle(new TestPickleBuilder().Proto2().Op('}').ToArray()), "ends without a STOP opcode");
    }

    [Fact]
    public void Load_TopLevelList_IsRefused()
    {
        AssertRefused(FileWithPickle(new TestPickleBuilder().Proto2().Op(']').Op('.').ToArray()), "the pickled object is a list, expected a dict");
    }

    [Fact]
    public void Load_DictValueThatIsNotATensor_IsRefused()
    {
        var pickle = TestPickleBuilder.StateDict(("step", b => b.Int(1000)));
        AssertRefused(FileWithPickle(pickle), "state dict entry 'step' is a int, expected a tensor");
    }

    /// <summary>
    /// nn.Module.state_dict() carries a <c>_metadata</c> attribute that torch.save keeps via BUILD on the OrderedDict;
    /// such files (e.g. older pytorch_model.bin) must load, ignoring the metadata.
    /// </summary>
    [Fact]
    public void Load_StateDictWithMetadataAttribute_LoadsTheTensors()
    {
        var builder = new TestPickleBuilder().Proto2().NewOrderedDict()
            .Op('(').Unicode("w").Tensor("0", 16, 0, [16], [1]).Op('u');
        builder.Op('}').Op('(').Unicode("_metadata").NewOrderedDict().Op('(').Unicode("").Op('}').Unicode("version").Op((byte)'K', 1).Op('s').Op('u').Op('u');
        var path = FileWithPickle(builder.Op('b').Op('.').ToArray());
        var loaded = TorchBinFile.Load(path);
        try
        {
            Assert.Equal(["w"], loaded.Keys);
            Assert.Equal(new long[] { 16 }, loaded["w"].shape);
        }
        finally
        {
            TorchBinFileGoldenTests.Dispose(loaded);
        }
    }

    [Fact]
    public void Load_ConvertToIntegerDtype_IsAProgrammingError()
    {
        Assert.Throws<ArgumentException>(() => TorchBinFile.Load(TorchBinFileGoldenTests.GoldenBin, torch.ScalarType.Int64));
    }
}
