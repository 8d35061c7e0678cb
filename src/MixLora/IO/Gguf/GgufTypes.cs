namespace MixLora.IO.Gguf;

/// <summary>GGUF metadata value types (the GGUF v3 spec's numbering).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>ggml tensor types this library reads or writes (numbering as ggml's), with their block layout.</summary>
public enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, BF16 = 30,
}

/// <summary>Sizes of the ggml types: elements per block and bytes per block.</summary>
public static class GgmlTypes
{
    /// <summary>(elements, bytes) of one block, or null for a type this library does not know.</summary>
    public static (int Elements, int Bytes)? Block(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 => (1, 2),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        _ => null,
    };
}

/// <summary>One tensor of a GGUF file: dims innermost first (ggml's ne[0] is the fastest-varying).</summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<ulong> Dims, GgmlType Type, ulong Offset, ulong ByteSize)
{
    public ulong ElementCount => Dims.Aggregate(1UL, (a, d) => a * d);
}

/// <summary>What a GGUF file holds besides tensor data: version, metadata and tensor directory; where the data starts.</summary>
public sealed record GgufHeader(uint Version, IReadOnlyDictionary<string, object> Metadata, IReadOnlyList<GgufTensorInfo> Tensors, long DataStart, uint Alignment);
