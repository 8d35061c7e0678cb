using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace MixLora.IO;

/// <summary>Writes safetensors files atomically: a temporary file in the target folder, renamed when complete.</summary>
internal static class SafeTensorsWriter
{
    private const string MetadataKey = "__metadata__";

    /// <summary>The header is padded with spaces to this multiple so the data buffer starts aligned.</summary>
    private const int HeaderAlignment = 8;

    private sealed record Entry(string Name, torch.Tensor Tensor, SafeTensorsDType DType, long[] Shape, long Begin, long End);

    public static void Write(
        string path,
        IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        // Everything that can be checked without touching data is checked before a file is created.
        var entries = PlanLayout(path, tensors);
        byte[] header = BuildHeader(path, entries, metadata);

        // Through AtomicFile: a temporary file and a rename, or in place for a device or pipe, through symbolic links.
        AtomicFile.Write(path, tempPath =>
        {
            using var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            file.Write(prefix);
            file.Write(header);
            foreach (var entry in entries)
            {
                WriteData(file, entry);
            }
            file.Flush(flushToDisk: true);
        });
    }

    private static List<Entry> PlanLayout(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new ArgumentException("A tensor name is null.", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"Tensor '{name}' is null.", nameof(tensors));
            if (name == MetadataKey)
            {
                throw new MixLoraException($"Cannot save {path}: '{MetadataKey}' is reserved and cannot name a tensor.");
            }
            if (!names.Add(name))
            {
                throw new MixLoraException($"Cannot save {path}: tensor name '{name}' is given more than once.");
            }
            var dtype = SafeTensorsDTypes.FromScalarType(tensor.dtype)
                ?? throw new MixLoraException(
                    $"Cannot save {path}: tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store " +
                    "(supported: Float64, Float32, Float16, BFloat16, Int64, Int32, Int16, Int8, Byte, Bool).");
            long bytes = tensor.numel() * SafeTensorsDTypes.SizeOf(dtype);
            entries.Add(new Entry(name, tensor, dtype, tensor.shape, offset, offset + bytes));
            offset += bytes;
        }
        return entries;
    }

    private static byte[] BuildHeader(string path, List<Entry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        using var json = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names readable; quotes and control characters are still escaped.
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            if (metadata.Count > 0)
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    if (key is null || value is null)
                    {
                        throw new MixLoraException($"Cannot save {path}: metadata keys and values must not be null.");
                    }
                    writer.WriteString(key, value);
                }
                writer.WriteEndObject();
            }
            foreach (var entry in entries)
            {
                writer.WriteStartObject(entry.Name);
                writer.WriteString("dtype", entry.DType.ToString());
                writer.WriteStartArray("shape");
                foreach (long dim in entry.Shape) writer.WriteNumberValue(dim);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(entry.Begin);
                writer.WriteNumberValue(entry.End);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }

        int padding = (HeaderAlignment - (int)(json.Length % HeaderAlignment)) % HeaderAlignment;
        for (int i = 0; i < padding; i++) json.WriteByte((byte)' ');
        return json.ToArray();
    }

    private static void WriteData(FileStream file, Entry entry)
    {
        using var scope = torch.NewDisposeScope();
        // detach: no autograd history; cpu + contiguous: the byte layout the format stores (row-major, dense).
        var dense = entry.Tensor.detach().cpu().contiguous();
        if (dense.dtype != entry.Tensor.dtype || dense.numel() * SafeTensorsDTypes.SizeOf(entry.DType) != entry.End - entry.Begin)
        {
            throw new InvalidOperationException($"Tensor '{entry.Name}' changed while it was being saved.");
        }
        TensorRawBytes.WriteFrom(file, dense);
    }
}
