using static TorchSharp.torch;

namespace MixLora.IO.Gguf;

/// <summary>Tensor data of a GGUF file as torch tensors (F32, F16, BF16, and Q8_0 dequantized; other quantized types are not read).</summary>
public static class GgufTensors
{
    /// <summary>The tensor as fp32 [dn, …, d0] (ggml dims reversed back to torch order).</summary>
    /// <exception cref="InvalidFileException">A type this reader does not convert.</exception>
    public static Tensor Load(string path, GgufHeader header, GgufTensorInfo info)
    {
        // null: a block format decoded here rather than by torch.
        ScalarType? type = info.Type switch
        {
            GgmlType.F32 => ScalarType.Float32,
            GgmlType.F16 => ScalarType.Float16,
            GgmlType.BF16 => ScalarType.BFloat16,
            GgmlType.Q8_0 => null,
            _ => throw new InvalidFileException(path, $"tensor \"{info.Name}\" is {info.Type}; this reader converts F32, F16, BF16 and Q8_0 tensors only"),
        };
        var bytes = new byte[info.ByteSize];
        using (var file = File.OpenRead(path))
        {
            file.Position = header.DataStart + (long)info.Offset;
            file.ReadExactly(bytes);
        }
        var shape = info.Dims.Reverse().Select(d => (long)d).ToArray();
        if (type is null) return tensor(Q8_0.Dequantize(bytes), shape);
        using var raw = empty(shape, dtype: type.Value);
        raw.bytes = bytes;
        return raw.to(ScalarType.Float32);
    }
}
