using MixLora.IO;
using MixLora.Tests.Support;

namespace MixLora.Tests.IO;

public class Llama2cConverterTests
{
    [Fact]
    public void ConvertingStories260KReproducesTheHfFolderExactly()
    {
        using var dir = new TempDir();
        var output = dir.File("converted");
        var header = Llama2cConverter.Convert(RepoPaths.Asset("stories260K", "stories260K.bin"), RepoPaths.Asset("stories260K", "tok512.model"), output);
        Assert.Equal((64, 172, 5, 8, 4, 512, true, 512),
            (header.Dim, header.HiddenDim, header.Layers, header.Heads, header.KvHeads, header.VocabSize, header.SharedClassifier, header.SeqLen));

        var expected = SafeTensorsFile.Load(RepoPaths.Asset("stories260K-hf", "model.safetensors"));
        var actual = SafeTensorsFile.Load(Path.Combine(output, "model.safetensors"));
        Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(tensor.shape, actual[name].shape);
            Assert.True(tensor.eq(actual[name]).all().item<bool>(), $"{name} differs");
        }
        // The config must describe the same model.
        var expectedConfig = MixLora.Config.ModelConfig.Load(RepoPaths.Asset("stories260K-hf", "config.json"));
        var actualConfig = MixLora.Config.ModelConfig.Load(Path.Combine(output, "config.json"));
        Assert.Equal(expectedConfig.ToJson(), actualConfig.ToJson());
        Assert.Equal(File.ReadAllBytes(RepoPaths.Asset("stories260K", "tok512.model")), File.ReadAllBytes(Path.Combine(output, "tokenizer.model")));
        Assert.True(File.Exists(Path.Combine(output, "tokenizer_config.json")));
    }

    [Fact]
    public void TruncatedCheckpointIsAClearError()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(RepoPaths.Asset("stories260K", "stories260K.bin"));
        var truncated = dir.File("cut.bin");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidFileException>(() =>
            Llama2cConverter.Convert(truncated, RepoPaths.Asset("stories260K", "tok512.model"), dir.File("out")));
        Assert.Contains("cut.bin", e.Message);
        Assert.Contains("does not match the header", e.Message);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void GarbageHeaderIsAClearError()
    {
        using var dir = new TempDir();
        var path = dir.File("junk.bin");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0xFF, 64).ToArray());
        var e = Assert.Throws<InvalidFileException>(() => Llama2cConverter.Convert(path, RepoPaths.Asset("stories260K", "tok512.model"), dir.File("out")));
        Assert.Contains("not a llama2.c checkpoint", e.Message);
    }

    [Fact]
    public void RotateHalfPermutationMovesPairsToHalves()
    {
        // One head of size 4: llama2.c rows (a0, b0, a1, b1) become HF rows (a0, a1, b0, b1).
        using var w = TorchSharp.torch.arange(8, dtype: TorchSharp.torch.ScalarType.Float32).view(4, 2);
        using var permuted = Llama2cConverter.InterleavedToRotateHalf(w, heads: 1);
        Assert.Equal(new float[] { 0, 1, 4, 5, 2, 3, 6, 7 }, permuted.data<float>().ToArray());
    }
}
