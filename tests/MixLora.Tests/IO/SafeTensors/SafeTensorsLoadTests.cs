using System.Buffers.Binary;
using System.Text.Json;
using MixLora.IO;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.IO;

/// <summary>Loading the real checkpoints and goldens shipped in assets/.</summary>
public class SafeTensorsLoadTests
{
    private static readonly string ModelPath = RepoPaths.Asset("stories260K-hf", "model.safetensors");
    private static readonly string GoldenFolder = RepoPaths.Asset("golden", "mixlora-stories260K");

    [Fact]
    public void Stories260KHeaderListsEveryWeightWithItsShape()
    {
        var header = SafeTensorsFile.ReadHeader(ModelPath);

        // 5 layers x 9 weights + embed_tokens + norm; no lm_head because the output layer is tied to the embedding.
        Assert.Equal(47, header.Tensors.Count);
        Assert.Null(header.Find("lm_head.weight"));
        Assert.Equal("pt", header.Metadata["format"]);
        Assert.Equal(8 + 4856, header.DataStart);
        Assert.Equal(new FileInfo(ModelPath).Length, header.FileLength);
        Assert.Equal([512L, 64], header.Find("model.embed_tokens.weight")!.Shape);
        Assert.Equal([32L, 64], header.Find("model.layers.0.self_attn.k_proj.weight")!.Shape);
        Assert.Equal([172L, 64], header.Find("model.layers.0.mlp.gate_proj.weight")!.Shape);
        Assert.Equal([64L], header.Find("model.norm.weight")!.Shape);
        Assert.All(header.Tensors, t => Assert.Equal(SafeTensorsDType.F32, t.DType));

        // File order is offset order, and this file is densely packed.
        long expectedBegin = 0;
        foreach (var info in header.Tensors)
        {
            Assert.Equal(expectedBegin, info.Begin);
            expectedBegin = info.End;
        }
        Assert.Equal(header.DataLength, expectedBegin);
    }

    [Fact]
    public void Stories260KLoadsAsFloat32WithTheBytesOfTheFile()
    {
        using var scope = torch.NewDisposeScope();
        var header = SafeTensorsFile.ReadHeader(ModelPath);
        var tensors = SafeTensorsFile.Load(ModelPath);
        Assert.Equal(header.Tensors.Select(t => t.Name), tensors.Keys);
        Assert.All(tensors.Values, t => Assert.Equal(torch.ScalarType.Float32, t.dtype));
        Assert.All(tensors.Values, t => Assert.Equal(DeviceType.CPU, t.device_type));
        Assert.Equal([172L, 64], tensors["model.layers.0.mlp.gate_proj.weight"].shape);

        // Values computed once from the raw file (reference values), then checked independently below.
        var norm = tensors["model.norm.weight"];
        Assert.Equal(2.4583089351654053f, norm[0].item<float>());
        Assert.Equal(1.7077769041061401f, norm[63].item<float>());
        Assert.Equal(-0.29474878311157227f, tensors["model.embed_tokens.weight"][0, 0].item<float>());

        byte[] fileBytes = File.ReadAllBytes(ModelPath);
        foreach (var name in new[] { "model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight", "model.norm.weight" })
        {
            var info = header.Find(name)!;
            var raw = fileBytes.AsSpan((int)(header.DataStart + info.Begin), (int)info.ByteLength);
            double rawSum = 0;
            for (int i = 0; i < raw.Length; i += 4)
            {
                rawSum += BinaryPrimitives.ReadSingleLittleEndian(raw[i..]);
            }
            double loadedSum = tensors[name].to(torch.ScalarType.Float64).sum().item<double>();
            Assert.Equal(rawSum, loadedSum, 1e-9);
        }
        Assert.Equal(-752.3677446640068, tensors["model.embed_tokens.weight"].to(torch.ScalarType.Float64).sum().item<double>(), 1e-9);
    }

    [Fact]
    public void OnlyLoadsTheRequestedTensorsInFileOrder()
    {
        using var scope = torch.NewDisposeScope();
        var tensors = SafeTensorsFile.Load(ModelPath, only: ["model.norm.weight", "model.embed_tokens.weight"]);
        Assert.Equal(["model.embed_tokens.weight", "model.norm.weight"], tensors.Keys);
    }

    [Fact]
    public void OnlyWithAnUnknownNameNamesItAndTheFile()
    {
        var ex = Assert.Throws<InvalidFileException>(() => SafeTensorsFile.Load(ModelPath, only: ["lm_head.weight"]));
        Assert.Contains(ModelPath, ex.Message);
        Assert.Contains("'lm_head.weight'", ex.Message);
        Assert.Contains("47 tensors", ex.Message);
    }

    [Fact]
    public void MissingFileIsAnInvalidFileError()
    {
        string path = Path.Combine(GoldenFolder, "does-not-exist.safetensors");
        var ex = Assert.Throws<InvalidFileException>(() => SafeTensorsFile.ReadHeader(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void GoldenTensorsHaveTheDTypesAndShapesListedInGoldenJson()
    {
        using var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(GoldenFolder, "golden.json")));
        var entries = golden.RootElement.GetProperty("entries").EnumerateObject().ToList();
        using var scope = torch.NewDisposeScope();
        var tensors = SafeTensorsFile.Load(Path.Combine(GoldenFolder, "golden.safetensors"));
        Assert.Equal(entries.Count, tensors.Count);
        foreach (var entry in entries)
        {
            var tensor = tensors[entry.Name];
            var expectedType = entry.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => torch.ScalarType.Float32,
                "I64" => torch.ScalarType.Int64,
                var other => throw new InvalidOperationException($"golden.json lists unexpected dtype {other}"),
            };
            Assert.Equal(expectedType, tensor.dtype);
            Assert.Equal(entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), tensor.shape);
        }

        // BOS id 1 first, as golden.json describes input_ids_0.
        Assert.Equal([1L, 403, 407, 261, 378, 432, 383], tensors["input_ids_0"].data<long>().ToArray());
        Assert.Equal([7L, 512], tensors["base_logits_0"].shape);
    }

    [Fact]
    public void ConvertToLeavesIntegerTensorsAlone()
    {
        using var scope = torch.NewDisposeScope();
        var tensors = SafeTensorsFile.Load(Path.Combine(GoldenFolder, "golden.safetensors"),
            convertTo: torch.ScalarType.Float64, only: ["input_ids_0", "base_logits_0"]);
        Assert.Equal(torch.ScalarType.Int64, tensors["input_ids_0"].dtype);
        Assert.Equal(torch.ScalarType.Float64, tensors["base_logits_0"].dtype);
    }
}
