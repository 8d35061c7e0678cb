using System.Text;

namespace MixLora.IO.Gguf;

/// <summary>
/// Reads and validates a GGUF (v2/v3) header: metadata and tensor directory. Every count and length is checked against
/// what is left of the file before anything of that size is allocated, so a hostile file cannot make it allocate
/// gigabytes; tensors must have a known type, consistent sizes, aligned offsets and data inside the file.
/// </summary>
public static class GgufReader
{
    private const uint Magic = 0x46554747;                     // "GGUF" little-endian
    private const int MaxArrayNesting = 4;

    /// <exception cref="InvalidFileException">Not a GGUF file, or malformed, truncated or inconsistent.</exception>
    public static GgufHeader ReadHeader(string path)
    {
        using var file = File.OpenRead(path);
        var reader = new Cursor(new BinaryReader(file, Encoding.UTF8, leaveOpen: true), path, file.Length);
        if (file.Length < 24 || reader.U32() != Magic) throw new InvalidFileException(path, "not a GGUF file (the first 4 bytes are not \"GGUF\")");
        uint version = reader.U32();
        if (version is not (2 or 3)) throw new InvalidFileException(path, $"GGUF version {version} is not supported (2 or 3)");
        ulong tensorCount = reader.Count("tensor count", minBytesEach: 4 + 8 + 4 + 8 + 4);
        ulong kvCount = reader.Count("metadata count", minBytesEach: 8 + 4 + 1);
        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = reader.String($"metadata key {i}");
            var type = (GgufValueType)reader.U32();
            if (!metadata.TryAdd(key, reader.Value(type, key, 0))) throw new InvalidFileException(path, $"metadata key \"{key}\" appears twice");
        }
        uint alignment = metadata.TryGetValue("general.alignment", out var a) ? Convert.ToUInt32(a) : 32u;
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw new InvalidFileException(path, $"general.alignment {alignment} is not a power of two");
        var infos = new List<(string Name, ulong[] Dims, GgmlType Type, ulong Offset)>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = reader.String($"tensor {i} name");
            uint dimCount = reader.U32();
            if (dimCount is 0 or > 4) throw new InvalidFileException(path, $"tensor \"{name}\": {dimCount} dimensions (1 to 4 expected)");
            var dims = new ulong[dimCount];
            for (int d = 0; d < dimCount; d++) dims[d] = reader.U64();
            uint rawType = reader.U32();
            if (GgmlTypes.Block((GgmlType)rawType) is null) throw new InvalidFileException(path, $"tensor \"{name}\": unknown ggml type {rawType}");
            infos.Add((name, dims, (GgmlType)rawType, reader.U64()));
        }
        long dataStart = (long)AlignUp((ulong)file.Position, alignment);
        ulong dataBytes = file.Length > dataStart ? (ulong)(file.Length - dataStart) : 0;
        var tensors = new List<GgufTensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, dims, type, offset) in infos)
        {
            if (!names.Add(name)) throw new InvalidFileException(path, $"tensor \"{name}\" appears twice");
            var (perBlock, blockBytes) = GgmlTypes.Block(type)!.Value;
            ulong elements = 1;
            foreach (var d in dims)
            {
                if (d == 0 || elements > ulong.MaxValue / d) throw new InvalidFileException(path, $"tensor \"{name}\": dimensions [{string.Join(", ", dims)}] are empty or overflow");
                elements *= d;
            }
            if (dims[0] % (ulong)perBlock != 0) throw new InvalidFileException(path, $"tensor \"{name}\": its first dimension {dims[0]} is not a multiple of the {type} block of {perBlock}");
            ulong bytes = elements / (ulong)perBlock * (ulong)blockBytes;
            if (offset % alignment != 0) throw new InvalidFileException(path, $"tensor \"{name}\": data offset {offset} is not aligned to {alignment}");
            if (offset > dataBytes || bytes > dataBytes - offset)
                throw new InvalidFileException(path, $"tensor \"{name}\": {bytes} bytes at offset {offset} lie outside the {dataBytes} data bytes of the file (truncated?)");
            tensors.Add(new GgufTensorInfo(name, dims, type, offset, bytes));
        }
        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i - 1].Offset + sorted[i - 1].ByteSize > sorted[i].Offset)
                throw new InvalidFileException(path, $"tensors \"{sorted[i - 1].Name}\" and \"{sorted[i].Name}\" overlap");
        return new GgufHeader(version, metadata, tensors, dataStart, alignment);
    }

    internal static ulong AlignUp(ulong value, uint alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>Little-endian reads that report a truncated file or an impossible length as one clear error.</summary>
    private sealed class Cursor(BinaryReader reader, string path, long length)
    {
        private long Left => length - reader.BaseStream.Position;

        private void Need(ulong bytes, string what)
        {
            if (bytes > (ulong)Math.Max(0, Left)) throw new InvalidFileException(path, $"{what} needs {bytes} bytes but only {Left} remain (truncated or corrupt)");
        }

        public uint U32() { Need(4, "a 32-bit value"); return reader.ReadUInt32(); }
        public ulong U64() { Need(8, "a 64-bit value"); return reader.ReadUInt64(); }

        /// <summary>A count whose items take at least <paramref name="minBytesEach"/> bytes: larger than the file allows is corrupt.</summary>
        public ulong Count(string what, int minBytesEach)
        {
            ulong count = U64();
            if (count > (ulong)Math.Max(0, Left) / (ulong)minBytesEach) throw new InvalidFileException(path, $"{what} {count} cannot fit in the {length}-byte file (truncated or corrupt)");
            return count;
        }

        public string String(string what)
        {
            ulong bytes = U64();
            Need(bytes, what);
            if (bytes > int.MaxValue) throw new InvalidFileException(path, $"{what}: a {bytes}-byte string");
            try
            {
                return new UTF8Encoding(false, true).GetString(reader.ReadBytes((int)bytes));
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidFileException(path, $"{what} is not valid UTF-8");
            }
        }

        public object Value(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: Need(1, key); return reader.ReadByte();
                case GgufValueType.Int8: Need(1, key); return reader.ReadSByte();
                case GgufValueType.UInt16: Need(2, key); return reader.ReadUInt16();
                case GgufValueType.Int16: Need(2, key); return reader.ReadInt16();
                case GgufValueType.UInt32: return U32();
                case GgufValueType.Int32: Need(4, key); return reader.ReadInt32();
                case GgufValueType.Float32: Need(4, key); return reader.ReadSingle();
                case GgufValueType.Bool:
                    Need(1, key);
                    byte b = reader.ReadByte();
                    return b <= 1 ? b == 1 : throw new InvalidFileException(path, $"metadata \"{key}\": bool value {b}");
                case GgufValueType.String: return String($"metadata \"{key}\"");
                case GgufValueType.UInt64: return U64();
                case GgufValueType.Int64: Need(8, key); return reader.ReadInt64();
                case GgufValueType.Float64: Need(8, key); return reader.ReadDouble();
                case GgufValueType.Array:
                    if (depth >= MaxArrayNesting) throw new InvalidFileException(path, $"metadata \"{key}\": arrays nested deeper than {MaxArrayNesting}");
                    var elementType = (GgufValueType)U32();
                    ulong count = Count($"metadata \"{key}\" array length", minBytesEach: 1);
                    var items = new List<object>();
                    for (ulong i = 0; i < count; i++) items.Add(Value(elementType, key, depth + 1));
                    return items;
                default:
                    throw new InvalidFileException(path, $"metadata \"{key}\": unknown value type {(uint)type}");
            }
        }
    }
}
