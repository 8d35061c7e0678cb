using MixLora;
using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>A failed save leaves the target path as it was and no temporary file behind.</summary>
public class SafeTensorsAtomicSaveTests
{
    [Fact]
    public void UnsupportedDTypeAfterAGoodTensorLeavesNoFile()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        var complex = torch.zeros(2, dtype: torch.ScalarType.ComplexFloat32);

        var ex = Assert.Throws<MixLoraException>(() =>
            SafeTensorsFile.Save(path, [new("good", torch.ones(3)), new("bad", complex)]));

        Assert.Contains(path, ex.Message);
        Assert.Contains("'bad'", ex.Message);
        Assert.Contains("ComplexFloat32", ex.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void FailureWhileWritingDataKeepsThePreviousFileAndRemovesTheTemporary()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        SafeTensorsFile.Save(path, [new("previous", torch.ones(5))]);
        byte[] before = File.ReadAllBytes(path);

        // A meta tensor has a dtype and a shape (so the header is planned) but no data: copying it out fails
        // after the header and the first tensor's bytes are already in the temporary file.
        var dataless = torch.empty(4, device: new torch.Device(DeviceType.META));
        Assert.ThrowsAny<Exception>(() => SafeTensorsFile.Save(path, [new("good", torch.ones(1000)), new("dataless", dataless)]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void DuplicateOrReservedNamesAreRejectedBeforeWriting()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");

        var duplicate = Assert.Throws<MixLoraException>(() =>
            SafeTensorsFile.Save(path, [new("w", torch.ones(1)), new("w", torch.ones(1))]));
        Assert.Contains("'w' is given more than once", duplicate.Message);

        var reserved = Assert.Throws<MixLoraException>(() => SafeTensorsFile.Save(path, [new("__metadata__", torch.ones(1))]));
        Assert.Contains("reserved", reserved.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void SaveReplacesAnExistingFile()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        SafeTensorsFile.Save(path, [new("old", torch.ones(5))]);
        SafeTensorsFile.Save(path, [new("new", torch.full(2, 4f))]);

        var loaded = SafeTensorsFile.Load(path);
        Assert.Equal(["new"], loaded.Keys);
        Assert.Equal([4f, 4f], loaded["new"].data<float>().ToArray());
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
