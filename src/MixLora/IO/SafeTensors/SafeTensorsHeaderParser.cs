using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Text.Json;
using System.Text.Unicode;

namespace MixLora.IO;

/// <summary>
/// Reads and validates a safetensors header. Every size is checked against the file length before anything is
/// allocated, so a corrupt or hostile header cannot make us allocate or read more than the file holds.
/// </summary>
internal static class SafeTensorsHeaderParser
{
    /// <summary>Upper bound for the JSON header, as in the reference implementation; real headers are kilobytes.</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Reads the 8-byte length and the JSON header from the start of <paramref name="file"/>.</summary>
    public static SafeTensorsHeader Read(string path, FileStream file)
    {
        long fileLength = file.Length;
        if (fileLength < 8)
        {
            throw new InvalidFileException(path,
                $"not a safetensors file: it has {fileLength} bytes, fewer than the 8-byte header length prefix.");
        }

        Span<byte> prefix = stackalloc byte[8];
        file.Position = 0;
        file.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderLength)
        {
            throw new InvalidFileException(path,
                $"header length {headerLength} bytes is implausible (limit {MaxHeaderLength}); not a safetensors file or corrupt.");
        }
        if ((long)headerLength > fileLength - 8)
        {
            throw new InvalidFileException(path,
                $"header length {headerLength} bytes exceeds the {fileLength - 8} bytes that follow the length prefix; file truncated?");
        }

        var headerBytes = new byte[headerLength];
        file.ReadExactly(headerBytes);
        long dataLength = fileLength - 8 - (long)headerLength;
        var (tensors, metadata) = Parse(path, headerBytes, dataLength);
        return new SafeTensorsHeader(path, tensors, metadata, (long)headerLength, fileLength);
    }

    /// <summary>Parses and validates the JSON header against a data buffer of <paramref name="dataLength"/> bytes.</summary>
    public static (IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata) Parse(
        string path, byte[] headerBytes, long dataLength)
    {
        if (!Utf8.IsValid(headerBytes))
        {
            throw new InvalidFileException(path, "header is not valid UTF-8 text; expected a JSON object.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException ex)
        {
            throw new InvalidFileException(path, $"header is not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidFileException(path,
                    $"header JSON must be an object mapping tensor names to entries, found {Config.JsonSource.Kind(root.ValueKind)}.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<SafeTensorInfo>();
            IReadOnlyDictionary<string, string> metadata = new ReadOnlyDictionary<string, string>(new OrderedDictionary<string, string>());
            // JsonDocument keeps repeated keys, so walking the properties ourselves is what detects duplicates.
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new InvalidFileException(path,
                        $"header key '{property.Name}' appears more than once; tensor names must be unique.");
                }
                if (property.Name == MetadataKey)
                {
                    metadata = ParseMetadata(path, property.Value);
                }
                else
                {
                    tensors.Add(ParseEntry(path, property.Name, property.Value, dataLength));
                }
            }

            // Stable sort: zero-length tensors sharing an offset keep their header order.
            var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
            RequireExactTiling(path, ordered, dataLength);
            return (ordered.AsReadOnly(), metadata);
        }
    }

    private static IReadOnlyDictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        var metadata = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        if (value.ValueKind == JsonValueKind.Null) return new ReadOnlyDictionary<string, string>(metadata);
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidFileException(path,
                $"'{MetadataKey}' must be an object of string keys to string values, found {Config.JsonSource.Kind(value.ValueKind)}.");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidFileException(path,
                    $"'{MetadataKey}' key '{item.Name}' must map to a string, found {Config.JsonSource.Kind(item.Value.ValueKind)}.");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw new InvalidFileException(path, $"'{MetadataKey}' key '{item.Name}' appears more than once.");
            }
        }
        return new ReadOnlyDictionary<string, string>(metadata);
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidFileException(path,
                $"tensor '{name}': entry must be an object with dtype, shape and data_offsets, found {Config.JsonSource.Kind(entry.ValueKind)}.");
        }

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in entry.EnumerateObject())
        {
            if (!fields.Add(field.Name))
            {
                throw new InvalidFileException(path, $"tensor '{name}': field '{field.Name}' appears more than once.");
            }
            switch (field.Name)
            {
                case "dtype": dtypeElement = field.Value; break;
                case "shape": shapeElement = field.Value; break;
                case "data_offsets": offsetsElement = field.Value; break;
                default: break; // Unknown fields are ignored, as other readers do.
            }
        }

        var dtype = ParseDType(path, name, dtypeElement);
        var shape = ParseNonNegativeIntegers(path, name, "shape", shapeElement, expectedCount: null);
        var offsets = ParseNonNegativeIntegers(path, name, "data_offsets", offsetsElement, expectedCount: 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
        {
            throw new InvalidFileException(path,
                $"tensor '{name}': data_offsets [{begin}, {end}] must be [begin, end] with begin <= end.");
        }

        long expectedBytes = ByteCount(path, name, dtype, shape);
        if (end - begin != expectedBytes)
        {
            throw new InvalidFileException(path,
                $"tensor '{name}': data_offsets [{begin}, {end}] cover {end - begin} bytes, but dtype {dtype} with shape " +
                $"[{string.Join(", ", shape)}] needs {expectedBytes} bytes.");
        }
        if (end > dataLength)
        {
            throw new InvalidFileException(path,
                $"tensor '{name}': data_offsets [{begin}, {end}] reach beyond the data buffer of {dataLength} bytes; file truncated?");
        }
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static SafeTensorsDType ParseDType(string path, string name, JsonElement? element)
    {
        if (element is null)
        {
            throw new InvalidFileException(path, $"tensor '{name}': missing 'dtype' (expected one of {SafeTensorsDTypes.KnownNames}).");
        }
        if (element.Value.ValueKind != JsonValueKind.String)
        {
            throw new InvalidFileException(path, $"tensor '{name}': 'dtype' must be a string, found {Config.JsonSource.Kind(element.Value.ValueKind)}.");
        }
        string text = element.Value.GetString()!;
        if (!SafeTensorsDTypes.TryParse(text, out var dtype))
        {
            throw new InvalidFileException(path,
                $"tensor '{name}': unknown dtype '{text}' (expected one of {SafeTensorsDTypes.KnownNames}).");
        }
        return dtype;
    }

    private static long[] ParseNonNegativeIntegers(
        string path, string name, string field, JsonElement? element, int? expectedCount)
    {
        string expected = expectedCount == 2 ? "[begin, end] of non-negative integers" : "an array of non-negative integers";
        if (element is null)
        {
            throw new InvalidFileException(path, $"tensor '{name}': missing '{field}' (expected {expected}).");
        }
        var value = element.Value;
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidFileException(path, $"tensor '{name}': '{field}' must be {expected}, found {Config.JsonSource.Kind(value.ValueKind)}.");
        }
        int count = value.GetArrayLength();
        if (expectedCount is int required && count != required)
        {
            throw new InvalidFileException(path, $"tensor '{name}': '{field}' must be {expected}, found {count} values.");
        }

        var numbers = new long[count];
        int index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number))
            {
                throw new InvalidFileException(path,
                    $"tensor '{name}': '{field}' value {index} is {item.GetRawText()}, expected a non-negative integer.");
            }
            if (number < 0)
            {
                throw new InvalidFileException(path,
                    $"tensor '{name}': '{field}' value {index} is negative ({number}), expected a non-negative integer.");
            }
            numbers[index++] = number;
        }
        return numbers;
    }

    /// <summary>Element count × element size, rejecting shapes whose size does not fit in 64 bits.</summary>
    private static long ByteCount(string path, string name, SafeTensorsDType dtype, long[] shape)
    {
        if (shape.Contains(0)) return 0;
        long bytes = SafeTensorsDTypes.SizeOf(dtype);
        foreach (long dim in shape)
        {
            if (bytes > long.MaxValue / dim)
            {
                throw new InvalidFileException(path,
                    $"tensor '{name}': shape [{string.Join(", ", shape)}] is too large (its byte size overflows 64 bits).");
            }
            bytes *= dim;
        }
        return bytes;
    }

    /// <summary>
    /// As the format's reference reader requires: sorted by offset, the tensors start at byte 0 of the data buffer,
    /// follow each other without gap or overlap, and end exactly at its end. Stray bytes anywhere would otherwise be
    /// accepted silently and could shift what a corrupted header points at.
    /// </summary>
    private static void RequireExactTiling(string path, List<SafeTensorInfo> ordered, long dataLength)
    {
        long expected = 0;
        SafeTensorInfo? previous = null;
        foreach (var current in ordered)
        {
            if (current.Begin < expected)
            {
                throw new InvalidFileException(path,
                    $"tensors '{previous!.Name}' (data_offsets [{previous.Begin}, {previous.End}]) and '{current.Name}' " +
                    $"(data_offsets [{current.Begin}, {current.End}]) overlap; each tensor needs its own bytes.");
            }
            if (current.Begin > expected)
            {
                string after = previous is null ? "the start of the data buffer" : $"tensor '{previous.Name}' (which ends at {previous.End})";
                throw new InvalidFileException(path,
                    $"tensor '{current.Name}' starts at data offset {current.Begin}, but {after} leaves {current.Begin - expected} " +
                    $"unaccounted byte(s) before it; tensors must cover the data buffer without gaps.");
            }
            expected = current.End;
            previous = current;
        }
        if (expected != dataLength)
        {
            string last = previous is null ? "the header lists no tensor" : $"the last tensor '{previous.Name}' ends at data offset {expected}";
            throw new InvalidFileException(path,
                $"the data buffer holds {dataLength} bytes but {last}; {dataLength - expected} trailing byte(s) belong to no tensor.");
        }
    }
}
