using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Loading the adapter_model.bin written by PyTorch 1.13, checked against its safetensors twin.</summary>
public sealed class TorchBinFileGoldenTests
{
    internal static string GoldenBin => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter", "adapter_model.bin");
    private static string GoldenSafeTensors => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter", "adapter_model.safetensors");

    private const int Layers = 5, Experts = 4, Rank = 4, Dim = 64, KeyValueDim = 32, Hidden = 172; // 4 of 8 heads for k/v

    /// <summary>The key order MixLoRA's state dict has, with each tensor's shape.</summary>
    private static List<(string Name, long[] Shape)> ExpectedKeys()
    {
        var keys = new List<(string, long[])>();
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"mixlora.layers.{layer}.";
            foreach (var projection in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            {
                keys.Add(($"{prefix}self_attn.{projection}.lora_A.weight", [Rank, Dim]));
                var outFeatures = projection is "k_proj" or "v_proj" ? KeyValueDim : Dim;
                keys.Add(($"{prefix}self_attn.{projection}.lora_B.weight", [outFeatures, Rank]));
            }
            keys.Add(($"{prefix}mlp.moe_gate.weight", [Experts, Dim]));
            foreach (var projection in new[] { "gate_proj", "down_proj", "up_proj" })
            {
                var (inFeatures, outFeatures) = projection == "down_proj" ? (Hidden, Dim) : (Dim, Hidden);
                for (var expert = 0; expert < Experts; expert++)
                {
                    keys.Add(($"{prefix}mlp.{projection}.experts.{expert}.lora_A.weight", [Rank, inFeatures]));
                    keys.Add(($"{prefix}mlp.{projection}.experts.{expert}.lora_B.weight", [outFeatures, Rank]));
                }
            }
        }
        return keys;
    }

    [Fact]
    public void Load_GoldenAdapter_HasEveryKeyInOrderWithItsShape()
    {
        var tensors = TorchBinFile.Load(GoldenBin);
        try
        {
            var expected = ExpectedKeys();
            Assert.Equal(165, tensors.Count);
            Assert.Equal(expected.Select(k => k.Name), tensors.Keys);
            foreach (var (name, shape) in expected)
            {
                Assert.Equal(shape, tensors[name].shape);
                Assert.Equal(torch.ScalarType.Float32, tensors[name].dtype);
                Assert.True(tensors[name].is_contiguous());
            }
        }
        finally
        {
            Dispose(tensors);
        }
    }

    [Fact]
    public void Load_GoldenAdapter_EqualsSafeTensorsTwinBitForBit()
    {
        var fromBin = TorchBinFile.Load(GoldenBin);
        var fromSafeTensors = SafeTensorsFile.Load(GoldenSafeTensors);
        try
        {
            Assert.Equal(fromSafeTensors.Count, fromBin.Count);
            foreach (var (name, expected) in fromSafeTensors)
            {
                var actual = fromBin[name];
                Assert.Equal(expected.dtype, actual.dtype);
                Assert.Equal(expected.shape, actual.shape);
                Assert.True(expected.bytes.SequenceEqual(actual.bytes), $"{name} differs from the safetensors twin");
            }
            // Real values, not zeros: the adapter was trained.
            Assert.True(fromBin["mixlora.layers.0.mlp.moe_gate.weight"].abs().sum().item<float>() > 0.1f);
        }
        finally
        {
            Dispose(fromBin);
            foreach (var tensor in fromSafeTensors.Values) tensor.Dispose();
        }
    }

    [Fact]
    public void Load_WithConvertTo_ConvertsFloatingTensors()
    {
        var original = TorchBinFile.Load(GoldenBin);
        var converted = TorchBinFile.Load(GoldenBin, torch.ScalarType.BFloat16);
        try
        {
            const string name = "mixlora.layers.4.mlp.up_proj.experts.3.lora_B.weight";
            Assert.Equal(torch.ScalarType.BFloat16, converted[name].dtype);
            using var expected = original[name].to(torch.ScalarType.BFloat16);
            Assert.True(expected.bytes.SequenceEqual(converted[name].bytes));
        }
        finally
        {
            Dispose(original);
            Dispose(converted);
        }
    }

    internal static void Dispose(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        foreach (var (_, tensor) in tensors) tensor.Dispose();
    }
}
