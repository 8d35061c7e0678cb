using TorchSharp;

namespace MixLora.IO;

/// <summary>Sizes, header spellings and TorchSharp equivalents of <see cref="SafeTensorsDType"/>.</summary>
internal static class SafeTensorsDTypes
{
    private static readonly Dictionary<string, SafeTensorsDType> ByName =
        Enum.GetValues<SafeTensorsDType>().ToDictionary(d => d.ToString(), StringComparer.Ordinal);

    /// <summary>The header spellings, for error messages.</summary>
    public static string KnownNames => string.Join(", ", ByName.Keys);

    /// <summary>Parses a header dtype string; exact, case-sensitive spelling as the format requires.</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype) => ByName.TryGetValue(name, out dtype);

    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 or SafeTensorsDType.U32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 or SafeTensorsDType.U16 => 2,
        SafeTensorsDType.I8 or SafeTensorsDType.U8 or SafeTensorsDType.BOOL
            or SafeTensorsDType.F8_E4M3 or SafeTensorsDType.F8_E5M2 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The TorchSharp type with the same bit layout, or null when TorchSharp has none.</summary>
    public static torch.ScalarType? ToScalarType(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 => torch.ScalarType.Float64,
        SafeTensorsDType.F32 => torch.ScalarType.Float32,
        SafeTensorsDType.F16 => torch.ScalarType.Float16,
        SafeTensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafeTensorsDType.I64 => torch.ScalarType.Int64,
        SafeTensorsDType.I32 => torch.ScalarType.Int32,
        SafeTensorsDType.I16 => torch.ScalarType.Int16,
        SafeTensorsDType.I8 => torch.ScalarType.Int8,
        SafeTensorsDType.U8 => torch.ScalarType.Byte,
        SafeTensorsDType.BOOL => torch.ScalarType.Bool,
        _ => null,
    };

    /// <summary>The safetensors type for a TorchSharp type, or null when the format has none (complex, quantized).</summary>
    public static SafeTensorsDType? FromScalarType(torch.ScalarType scalarType) => scalarType switch
    {
        torch.ScalarType.Float64 => SafeTensorsDType.F64,
        torch.ScalarType.Float32 => SafeTensorsDType.F32,
        torch.ScalarType.Float16 => SafeTensorsDType.F16,
        torch.ScalarType.BFloat16 => SafeTensorsDType.BF16,
        torch.ScalarType.Int64 => SafeTensorsDType.I64,
        torch.ScalarType.Int32 => SafeTensorsDType.I32,
        torch.ScalarType.Int16 => SafeTensorsDType.I16,
        torch.ScalarType.Int8 => SafeTensorsDType.I8,
        torch.ScalarType.Byte => SafeTensorsDType.U8,
        torch.ScalarType.Bool => SafeTensorsDType.BOOL,
        _ => null,
    };
}
