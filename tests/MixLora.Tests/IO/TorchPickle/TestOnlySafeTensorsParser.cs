using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>
/// TEST-ONLY minimal safetensors reader, used to cross-check TorchBinFile against the golden .safetensors twin.
/// Trusts its input (golden files only). Replace with the product safetensors reader once it exists.
/// </summary>
internal static class TestOnlySafeTensorsParser
{
    public static List<(string Name, torch.Tensor Tensor)> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var dataStart = 8 + headerLength;
        var result = new List<(string, torch.Tensor)>();
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__") continue;
            var dtype = property.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => torch.ScalarType.Float32,
                "BF16" => torch.ScalarType.BFloat16,
                "F16" => torch.ScalarType.Float16,
                "I64" => torch.ScalarType.Int64,
                var other => throw new NotSupportedException(other),
            };
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var tensor = torch.empty(shape, dtype);
            bytes.AsSpan(dataStart + offsets[0], offsets[1] - offsets[0]).CopyTo(tensor.bytes);
            result.Add((property.Name, tensor));
        }
        return result;
    }
}
