using static TorchSharp.torch;

namespace MixLora.IO.Gguf;

/// <summary>Tensor data of a GGUF file as torch tensors (F32 and F16; quantized types are not dequantized here yet).</summary>
public static class GgufTensors
{
    /// <summary>The tensor as fp32 [dn, …, d0] (ggml dims reversed back to torch order).</summary>
    /// <exception cref="InvalidFileException">A type this reader does not convert.</exception>
    public static Tensor Load(string path, GgufHeader header, GgufTensorInfo info)
    {
        var type = info.Type switch
        {
            GgmlType.F32 => ScalarType.Float32,
            GgmlType.F16 => ScalarType.Float16,
            GgmlType.BF16 => ScalarType.BFloat16,
            _ => throw new InvalidFileException(path, $"tensor \"{info.Name}\" is {info.Type}; this reader converts F32, F16 and BF16 tensors only"),
        };
        var bytes = new byte[info.ByteSize];
        using (var file = File.OpenRead(path))
        {
            file.Position = header.DataStart + (long)info.Offset;
            file.ReadExactly(bytes);
        }
        var shape = info.Dims.Reverse().Select(d => (long)d).ToArray();
        using var raw = empty(shape, dtype: type);
        raw.bytes = bytes;
        return raw.to(ScalarType.Float32);
    }
}
