using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO.Adapters;

/// <summary>The reference-written MixLoRA adapter for stories260K (assets/golden/mixlora-stories260K/adapter).</summary>
internal static class GoldenAdapter
{
    public static string Dir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    public static string ConfigPath => Path.Combine(Dir, AdapterFolder.ConfigFileName);

    public static ModelConfig BaseModel => ModelConfig.Load(RepoPaths.Asset("stories260K-hf", "config.json"));

    /// <summary>The tensors of adapter_model.bin in file order (the reference's insertion order).</summary>
    public static OrderedDictionary<string, Tensor> BinTensors() => TorchBinFile.Load(Path.Combine(Dir, AdapterFolder.BinFileName));

    /// <summary>Copies the golden folder without some of its files.</summary>
    public static void CopyTo(string target, params string[] skip)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(Dir))
        {
            if (!skip.Contains(Path.GetFileName(file))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
    }

    public static void AssertSameTensors(IEnumerable<KeyValuePair<string, Tensor>> expected, IEnumerable<KeyValuePair<string, Tensor>> actual)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Select(kv => kv.Key), a.Select(kv => kv.Key));
        for (int i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].Value.dtype, a[i].Value.dtype);
            Assert.Equal(e[i].Value.shape, a[i].Value.shape);
            using var expectedDense = e[i].Value.contiguous();
            using var actualDense = a[i].Value.contiguous();
            Assert.True(expectedDense.bytes.SequenceEqual(actualDense.bytes), $"tensor {e[i].Key} differs");
        }
    }

    public static void DisposeAll(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        foreach (var (_, tensor) in tensors) tensor.Dispose();
    }
}
