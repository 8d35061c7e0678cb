using System.Text;
using TorchSharp;

namespace MixLora.IO;

/// <summary>Writes what <c>torch.save(OrderedDict)</c> writes, into a temp file that replaces the target at the end.</summary>
internal static class TorchBinWriter
{
    public static void Save(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var items = tensors.ToList();
        var pickled = Describe(items);
        CheckSizeLimits(path, items);

        // torch names the archive folder after the file stem ("adapter_model/…").
        var archive = Path.GetFileNameWithoutExtension(path);
        if (archive.Length == 0) archive = "archive";
        var pickle = TensorStatePickler.Write(pickled);

        // Through AtomicFile: a temporary file and a rename, or in place for a device or pipe, through symbolic links.
        AtomicFile.Write(path, tempPath =>
        {
            using var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            var zip = new AlignedZipWriter(file, path);
            zip.AddEntry($"{archive}/data.pkl", pickle);
            // torch writes storages in the string order of their keys: 0, 1, 10, 100, 101, …, 2, …
            foreach (var index in Enumerable.Range(0, items.Count).OrderBy(i => pickled[i].StorageKey, StringComparer.Ordinal))
            {
                WriteStorage(zip, $"{archive}/data/{pickled[index].StorageKey}", items[index].Value);
            }
            zip.AddEntry($"{archive}/version", "3\n"u8);
            zip.Finish();
            file.Flush(flushToDisk: true);
        });
    }

    /// <summary>Each tensor gets its own storage "0", "1", … holding exactly its elements, contiguous from offset 0.</summary>
    private static List<PickledTensor> Describe(List<KeyValuePair<string, torch.Tensor>> items)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pickled = new List<PickledTensor>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var (name, tensor) = items[i];
            ArgumentNullException.ThrowIfNull(name, "tensor name");
            ArgumentNullException.ThrowIfNull(tensor, name);
            if (!names.Add(name)) throw new ArgumentException($"Tensor name '{name}' appears twice", nameof(items));
            var storageType = TorchPickleGlobals.StorageTypeFor(tensor.dtype)
                ?? throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which torch.save files written here do not support");
            var size = tensor.shape;
            pickled.Add(new PickledTensor(name, storageType.Name, i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                tensor.numel(), size, ContiguousStride(size)));
        }
        return pickled;
    }

    /// <summary>Refuses up front what the zip writer cannot hold, so nothing is written in vain.</summary>
    private static void CheckSizeLimits(string path, List<KeyValuePair<string, torch.Tensor>> items)
    {
        const long ZipLimit = uint.MaxValue - (1L << 24); // keep room for headers, the pickle and the central directory
        long total = 0;
        foreach (var (name, tensor) in items)
        {
            var bytes = tensor.numel() * tensor.ElementSize;
            if (bytes > int.MaxValue) throw new MixLoraException($"{path}: tensor '{name}' has {bytes} bytes; tensors over 2 GiB are not supported yet");
            total += bytes;
        }
        if (total > ZipLimit) throw new MixLoraException($"{path}: {total} bytes of tensors would exceed 4 GB, which needs ZIP64 (not supported yet)");
    }

    /// <summary>torch's contiguous strides: each dim steps over the (at least 1-long) dims after it.</summary>
    private static long[] ContiguousStride(long[] size)
    {
        var stride = new long[size.Length];
        long step = 1;
        for (var d = size.Length - 1; d >= 0; d--)
        {
            stride[d] = step;
            step *= Math.Max(size[d], 1);
        }
        return stride;
    }

    private static void WriteStorage(AlignedZipWriter zip, string entryName, torch.Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var contiguous = tensor.detach().cpu().contiguous();
        zip.AddEntry(entryName, contiguous.numel() == 0 ? ReadOnlySpan<byte>.Empty : contiguous.bytes);
    }
}
