using MixLora.IO;
using MixLora.Tests.Support;

namespace MixLora.Tests.IO;

/// <summary>Atomic writes never turn a device, FIFO or symbolic link into a regular file.</summary>
public class AtomicFileTargetTests
{
    [Fact]
    public void FullDeviceIsAnErrorAndStaysADevice()
    {
        using var dir = new TempDir();
        if (DeviceNodes.Make(dir, "full", DeviceNodes.Full) is not { } full) return; // not root: mknod is not allowed
        Assert.Equal(FileKind.Special, FileKinds.Of(full));
        var error = Assert.Throws<MixLoraException>(() => AtomicFile.WriteAllText(full, "some results"));
        Assert.Contains(full, error.Message);
        Assert.Contains("could not write", error.Message);
        Assert.Equal(FileKind.Special, FileKinds.Of(full));
    }

    [Fact]
    public void NullDeviceTakesTheBytesAndStaysADevice()
    {
        using var dir = new TempDir();
        if (DeviceNodes.Make(dir, "null", DeviceNodes.Null) is not { } sink) return;
        AtomicFile.WriteAllText(sink, "discarded");
        Assert.Equal(FileKind.Special, FileKinds.Of(sink));
        Assert.Equal(FileKind.Special, FileKinds.Of("/dev/null"));
    }

    /// <summary>The weight writers (what `logits --output`, adapter and checkpoint saves use) follow the same rules.</summary>
    [Fact]
    public void WeightWritersKeepDevicesAndLinks()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var dir = new TempDir();
        var tensors = new Dictionary<string, TorchSharp.torch.Tensor> { ["w"] = TorchSharp.torch.ones(2, 3) };
        if (DeviceNodes.Make(dir, "null", DeviceNodes.Null) is { } sink)
        {
            SafeTensorsFile.Save(sink, tensors);
            TorchBinFile.Save(sink, tensors);
            Assert.Equal(FileKind.Special, FileKinds.Of(sink));
        }
        if (DeviceNodes.Make(dir, "full", DeviceNodes.Full) is { } full)
        {
            Assert.Throws<MixLoraException>(() => SafeTensorsFile.Save(full, tensors));
            Assert.Equal(FileKind.Special, FileKinds.Of(full));
        }
        string target = dir.File("weights.safetensors");
        string link = dir.File("link.safetensors");
        File.CreateSymbolicLink(link, target);
        SafeTensorsFile.Save(link, tensors);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(6f, SafeTensorsFile.Load(target)["w"].sum().item<float>());
    }

    [Fact]
    public async Task FifoIsWrittenInPlace()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string fifo = dir.File("results.pipe");
        Assert.Equal(0, DeviceNodes.MakeFifo(fifo, 0x180)); // rw-------
        var reader = Task.Run(() => File.ReadAllText(fifo));
        AtomicFile.WriteAllText(fifo, "through the pipe");
        Assert.Equal("through the pipe", await reader.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(FileKind.Special, FileKinds.Of(fifo));
    }

    [Fact]
    public void SymbolicLinkIsWrittenThrough()
    {
        using var dir = new TempDir();
        string target = dir.File("real.json");
        File.WriteAllText(target, "old");
        string link = dir.File("link.json");
        File.CreateSymbolicLink(link, target);
        AtomicFile.WriteAllText(link, "new");
        Assert.Equal("new", File.ReadAllText(target));
        Assert.Equal(target, new FileInfo(link).LinkTarget);          // still a link to the same file
        Assert.Equal(FileKind.Regular, FileKinds.Of(target));
    }

    [Fact]
    public void FolderIsRefusedAndRegularFilesAreReplaced()
    {
        using var dir = new TempDir();
        var error = Assert.Throws<MixLoraException>(() => AtomicFile.WriteAllText(dir.Path, "x"));
        Assert.Contains("is a folder", error.Message);
        string file = dir.File("out.txt");
        Assert.Equal(FileKind.Missing, FileKinds.Of(file));
        AtomicFile.WriteAllText(file, "one");
        AtomicFile.WriteAllText(file, "two");
        Assert.Equal("two", File.ReadAllText(file));
        Assert.Equal(FileKind.Regular, FileKinds.Of(file));
        Assert.Single(Directory.GetFiles(dir.Path));                  // no temporary file left behind
    }
}
