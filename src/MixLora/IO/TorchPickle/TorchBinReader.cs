using System.IO.Compression;
using TorchSharp;

namespace MixLora.IO;

/// <summary>Loads a torch.save zip file: restricted pickle first, storage bytes only after every check passed.</summary>
internal static class TorchBinReader
{
    /// <summary>
    /// Tensors may share and overlap storages; to stop a small file from asking for terabytes, all tensors together
    /// may need at most this many times the file's size (tied weights need 2x; slices of one storage need less).
    /// </summary>
    private const long MaxExpansionOverFileSize = 4;

    public static OrderedDictionary<string, torch.Tensor> Load(string path, torch.ScalarType? convertTo)
    {
        if (convertTo is { } target && !StorageView.IsFloating(target))
        {
            throw new ArgumentException($"convertTo must be a floating dtype, got {target}", nameof(convertTo));
        }
        if (!File.Exists(path)) throw new InvalidFileException(path, "file does not exist");

        using var file = File.OpenRead(path);
        try
        {
            return LoadFromZip(path, file, convertTo);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            // Anything ZipArchive detects late (bad local header, unsupported compression) is a corrupt file too.
            throw new InvalidFileException(path, $"corrupt zip archive: {e.Message}", e);
        }
    }

    private static OrderedDictionary<string, torch.Tensor> LoadFromZip(string path, FileStream file, torch.ScalarType? convertTo)
    {
        using var zip = OpenZip(path, file);
        var archivePrefix = FindArchivePrefix(path, zip);
        var storageEntries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries.Where(e => e.FullName.StartsWith(archivePrefix + "data/", StringComparison.Ordinal)))
        {
            if (!storageEntries.TryAdd(entry.FullName[(archivePrefix.Length + "data/".Length)..], entry))
            {
                throw new InvalidFileException(path, $"the zip archive has two entries named {entry.FullName}");
            }
        }

        var pickleName = archivePrefix + "data.pkl";
        var pickle = ReadWholeEntry(path, zip.GetEntry(pickleName)!, file.Length);
        var unpickler = new RestrictedUnpickler(path, pickleName, pickle, key =>
            storageEntries.TryGetValue(key, out var entry) ? (entry.FullName, entry.Length) : null);
        var records = ToStateDict(path, unpickler.Load());
        CheckTensorsInsideStorages(path, records, file.Length);
        return Materialize(path, records, storageEntries, file.Length, convertTo);
    }

    private static ZipArchive OpenZip(string path, FileStream file)
    {
        try
        {
            return new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            var start = new byte[2];
            file.Position = 0;
            if (file.Read(start) == 2 && start[0] == 0x80 && start[1] == 0x02)
            {
                throw new InvalidFileException(path, "this is PyTorch's legacy (before 1.6) non-zip torch.save format, which is not supported; " +
                                                     "re-save it with a recent torch.save", e);
            }
            throw new InvalidFileException(path, $"not a readable torch.save zip archive (corrupt or truncated): {e.Message}", e);
        }
    }

    /// <summary>The single "&lt;archive&gt;/" folder holding data.pkl; torch names it after the file stem, or "archive".</summary>
    private static string FindArchivePrefix(string path, ZipArchive zip)
    {
        var pickles = zip.Entries
            .Select(e => e.FullName)
            .Where(name => name.EndsWith("/data.pkl", StringComparison.Ordinal) && name.IndexOf('/') == name.Length - "/data.pkl".Length)
            .ToList();
        return pickles.Count switch
        {
            0 => throw new InvalidFileException(path, "the zip archive has no <archive>/data.pkl entry (not a torch.save file)"),
            1 => pickles[0][..^"data.pkl".Length],
            _ => throw new InvalidFileException(path, $"the zip archive has {pickles.Count} data.pkl entries ({string.Join(", ", pickles)}); expected one"),
        };
    }

    private static byte[] ReadWholeEntry(string path, ZipArchiveEntry entry, long fileLength)
    {
        if (entry.Length > fileLength || entry.Length > Array.MaxLength)
        {
            throw new InvalidFileException(path, $"zip entry {entry.FullName} claims {entry.Length} bytes, more than the file holds");
        }
        var bytes = new byte[entry.Length];
        ReadEntryInto(path, entry, bytes);
        return bytes;
    }

    private static void ReadEntryInto(string path, ZipArchiveEntry entry, Span<byte> destination)
    {
        uint crc;
        try
        {
            using var stream = entry.Open();
            stream.ReadExactly(destination);
            crc = Crc32.Compute(destination);
            // Bytes past what we need (rare: a storage longer than its tensors) still count for the checksum.
            Span<byte> rest = stackalloc byte[4096];
            for (int n; (n = stream.Read(rest)) > 0;) crc = Crc32.Compute(rest[..n], crc);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new InvalidFileException(path, $"cannot read zip entry {entry.FullName} (corrupt or truncated): {e.Message}", e);
        }
        if (crc != entry.Crc32)
        {
            throw new InvalidFileException(path, $"zip entry {entry.FullName} fails its CRC-32 check (corrupt file)");
        }
    }

    private static List<KeyValuePair<string, TensorRecord>> ToStateDict(string path, object? root)
    {
        if (root is not PickleDict dict)
        {
            throw new InvalidFileException(path, $"the pickled object is a {RestrictedUnpickler.TypeName(root)}, expected a dict of name -> tensor");
        }
        var records = new List<KeyValuePair<string, TensorRecord>>(dict.Entries.Count);
        foreach (var (key, value) in dict.Entries)
        {
            if (key is not string name) throw new InvalidFileException(path, $"state dict key {key} is a {RestrictedUnpickler.TypeName(key)}, expected a string");
            if (value is not TensorRecord record)
            {
                throw new InvalidFileException(path, $"state dict entry '{name}' is a {RestrictedUnpickler.TypeName(value)}, expected a tensor");
            }
            records.Add(new(name, record));
        }
        return records;
    }

    /// <summary>Every element a tensor's (offset, size, stride) can address must lie inside its storage.</summary>
    private static void CheckTensorsInsideStorages(string path, List<KeyValuePair<string, TensorRecord>> records, long fileLength)
    {
        long totalBytes = 0;
        foreach (var (name, record) in records)
        {
            var storage = record.Storage;
            string Describe() => $"tensor '{name}' (storage offset {record.StorageOffset}, size [{string.Join(", ", record.Size)}], " +
                                 $"stride [{string.Join(", ", record.Stride)}])";
            if (record.StorageOffset < 0) throw new InvalidFileException(path, $"{Describe()} has a negative storage offset");
            long elementCount, lastIndex;
            try
            {
                elementCount = 1;
                lastIndex = record.StorageOffset;
                for (var d = 0; d < record.Size.Length; d++)
                {
                    elementCount = checked(elementCount * record.Size[d]);
                    if (record.Size[d] > 0) lastIndex = checked(lastIndex + (record.Size[d] - 1) * record.Stride[d]);
                }
            }
            catch (OverflowException)
            {
                throw new InvalidFileException(path, $"{Describe()} has sizes or strides too large to address");
            }
            if (elementCount > 0 && lastIndex >= storage.ElementCount)
            {
                throw new InvalidFileException(path, $"{Describe()} reaches element {lastIndex} of storage '{storage.Key}', " +
                                                     $"which holds only {storage.ElementCount} elements");
            }
            if (elementCount > storage.ElementCount)
            {
                throw new InvalidFileException(path, $"{Describe()} has more elements than its storage '{storage.Key}' " +
                                                     "(overlapping strides are not supported)");
            }
            totalBytes += elementCount * storage.Type.ElementSize;
        }
        if (totalBytes > MaxExpansionOverFileSize * fileLength + (1 << 20))
        {
            throw new InvalidFileException(path, $"the tensors would need {totalBytes} bytes, far more than the file's {fileLength} bytes " +
                                                 "(storages are shared implausibly often)");
        }
    }

    private static OrderedDictionary<string, torch.Tensor> Materialize(string path, List<KeyValuePair<string, TensorRecord>> records,
        Dictionary<string, ZipArchiveEntry> storageEntries, long fileLength, torch.ScalarType? convertTo)
    {
        var usesLeft = records.GroupBy(r => r.Value.Storage.Key).ToDictionary(g => g.Key, g => g.Count());
        var loaded = new Dictionary<string, torch.Tensor>();
        var result = new OrderedDictionary<string, torch.Tensor>(records.Count);
        try
        {
            foreach (var (name, record) in records)
            {
                var key = record.Storage.Key;
                if (!loaded.TryGetValue(key, out var storage))
                {
                    storage = ReadStorage(path, record.Storage, storageEntries[key], fileLength);
                    loaded[key] = storage;
                }
                var lastUse = --usesLeft[key] == 0;
                result[name] = StorageView.ToOwnedTensor(storage, record, reuseStorage: lastUse, convertTo);
                if (lastUse)
                {
                    storage.Dispose();
                    loaded.Remove(key);
                }
            }
            return result;
        }
        catch
        {
            foreach (var tensor in result.Values) tensor.Dispose();
            throw;
        }
        finally
        {
            foreach (var storage in loaded.Values) storage.Dispose();
        }
    }

    /// <summary>The storage as a 1-D tensor [numel] of its element type, filled straight from the zip entry.</summary>
    private static torch.Tensor ReadStorage(string path, StorageRecord storage, ZipArchiveEntry entry, long fileLength)
    {
        var byteCount = storage.ElementCount * storage.Type.ElementSize; // bounded by the entry length (checked when unpickling)
        if (entry.Length > fileLength) throw new InvalidFileException(path, $"zip entry {entry.FullName} claims {entry.Length} bytes, more than the file holds");
        if (byteCount > int.MaxValue) throw new InvalidFileException(path, $"storage '{storage.Key}' has {byteCount} bytes; storages over 2 GiB are not supported");
        var tensor = torch.empty(storage.ElementCount, storage.Type.DType);
        try
        {
            if (byteCount > 0) ReadEntryInto(path, entry, tensor.bytes);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }
}
