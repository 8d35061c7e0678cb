using MixLora.Adapters;
using MixLora.Export;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Tests.Adapters;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Export;

/// <summary>A merged folder is the base model plus the adapter: same logits (1e-5) and the same greedy text.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class AdapterMergerTests
{
    public static TheoryData<string> Adapters => new()
    {
        "\"peft_type\": \"LORA\"",
        "\"peft_type\": \"LORA\", \"use_rslora\": true",
        "\"peft_type\": \"LORA\", \"use_dora\": true",
    };

    /// <summary>An adapter with non-zero B (and DoRA magnitudes moved off ‖W‖), saved to <paramref name="dir"/>.</summary>
    internal static string TrainedLike(TempDir dir, string keys)
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Create(model, AdapterTests.Config(keys), new AdapterOptions { Seed = 4 });
        using (no_grad())
        {
            var generator = new Generator(11);
            foreach (var (name, p) in adapter.NamedTensors)
            {
                if (name.Contains("lora_B")) p.copy_(randn(p.shape, generator: generator) * 0.2);
                if (name.EndsWith(".magnitude")) p.mul_(1 + 0.3 * rand(p.shape, generator: generator));
            }
        }
        adapter.Save(dir.File("adapter"));
        return dir.File("adapter");
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void MergedFolderGivesTheAdaptedLogitsAndGreedyText(string keys)
    {
        using var dir = new TempDir();
        var adapterDir = TrainedLike(dir, keys);
        using var model = Stories260K.Load();
        using var ids = tensor(new long[] { 1, 403, 407, 261, 439, 281, 300, 275, 400 }).unsqueeze(0);
        Tensor expected;
        List<int> expectedIds;
        using (var adapter = Adapter.Load(model.Model, adapterDir))
        {
            using (no_grad()) using (var output = model.Model.Forward(ids)) expected = output.Logits.clone();
            expectedIds = new TokenGenerator(model.Model).Generate([1], new SamplingOptions { Temperature = 0, MaxNewTokens = 64 }, []).ToList();
            // A small shard limit: the stories model (1 MB) becomes several shards with an index.
            AdapterMerger.Merge(model, adapter, dir.File("merged"), maxShardBytes: 300_000);
        }
        var shards = HfModelFolder.ShardFiles(dir.File("merged/model.safetensors.index.json"));
        Assert.True(shards.Count >= 3, $"{shards.Count} shards");
        Assert.Equal($"model-00001-of-{shards.Count:D5}.safetensors", shards[0]);
        Assert.All(shards.Take(shards.Count - 1), s => Assert.InRange(new FileInfo(dir.File("merged/" + s)).Length, 1, 300_000 + 20_000));
        Assert.False(File.Exists(dir.File("merged/model.safetensors")));
        using (expected)
        {
            using var merged = PretrainedModel.Load(dir.File("merged"));
            Assert.Equal(model.Model.named_parameters().Select(p => p.name).Order(), merged.Model.named_parameters().Select(p => p.name).Order());
            // (W + sBA)x and Wx + s(BA)x round differently in fp32: 1e-5 relative to the largest logit.
            double scale = Math.Max(1.0, expected.abs().max().item<float>());
            using (no_grad()) using (var output = merged.Model.Forward(ids)) TensorAssert.Close(expected, output.Logits, 1e-5 * scale, "merged vs adapted logits");
            Assert.Equal(expectedIds, new TokenGenerator(merged.Model).Generate([1], new SamplingOptions { Temperature = 0, MaxNewTokens = 64 }, []).ToList());
            // The rest of the folder came along: the tokenizer loads and encodes as the base's.
            Assert.Equal(model.Tokenizer.Encode("Once upon a time"), merged.Tokenizer.Encode("Once upon a time"));
        }
        // The base model is untouched once the adapter is gone.
        using var again = PretrainedModel.Load(Stories260K.Dir);
        using (no_grad()) using (var a = model.Model.Forward(ids)) using (var b = again.Model.Forward(ids)) TensorAssert.Close(b.Logits, a.Logits, 0, "base after merge");
    }

    [Fact]
    public void TheCommandWritesAFolderWhoseLogitsMatchAndRefusesAFullFolder()
    {
        using var dir = new TempDir();
        var adapterDir = TrainedLike(dir, "\"peft_type\": \"LORA\", \"use_dora\": true");
        var merge = CliRunner.Run("merge", "--model", Stories260K.Dir, "--adapter", adapterDir, "--output", dir.File("merged"), "--dtype", "bfloat16");
        Assert.True(merge.ExitCode == 0, merge.Err);
        Assert.Equal("BF16", SafeTensorsFile.ReadHeader(dir.File("merged/model.safetensors")).Tensors[0].DType.ToString());
        var a = CliRunner.Run("logits", "--model", Stories260K.Dir, "--adapter", adapterDir, "--input-ids", "1,403,407", "--output", dir.File("a.safetensors"));
        var b = CliRunner.Run("logits", "--model", dir.File("merged"), "--input-ids", "1,403,407", "--output", dir.File("b.safetensors"));
        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, a.Err + b.Err);
        TensorAssert.Close(SafeTensorsFile.Load(dir.File("a.safetensors"))["logits"], SafeTensorsFile.Load(dir.File("b.safetensors"))["logits"], 0.3, "bf16 merged logits");   // bf16 weights: ~0.14 on logits up to ~15

        var again = CliRunner.Run("merge", "--model", Stories260K.Dir, "--adapter", adapterDir, "--output", dir.File("merged"));
        Assert.Contains("the output folder is not empty", again.Err);
    }
}
