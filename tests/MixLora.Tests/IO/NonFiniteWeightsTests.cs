using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Cli;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.IO;

/// <summary>Weights holding NaN or ±Inf are refused at load, naming the file and tensor, unless explicitly allowed.</summary>
public class NonFiniteWeightsTests
{
    /// <summary>A tiny model folder whose q_proj of layer 1 holds one NaN and one +Inf.</summary>
    private static string PoisonedModel(TempDir dir)
    {
        string folder = dir.File("model");
        using (TinyModelFolder.Write(folder, TinyModels.Config(), seed: 3)) { }
        string file = Path.Combine(folder, "model.safetensors");
        using var scope = NewDisposeScope();
        var tensors = SafeTensorsFile.Load(file);
        var q = tensors["model.layers.1.self_attn.q_proj.weight"];
        q[0, 0] = tensor(float.NaN);
        q[1, 2] = tensor(float.PositiveInfinity);
        SafeTensorsFile.Save(file, tensors);
        return folder;
    }

    [Fact]
    public void ModelWithNaNIsRefusedUnlessAllowed()
    {
        using var dir = new TempDir();
        string folder = PoisonedModel(dir);
        var error = Assert.Throws<InvalidFileException>(() => PretrainedModel.Load(folder));
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains("tensor 'model.layers.1.self_attn.q_proj.weight' holds 2 NaN or infinite value(s)", error.Message);
        using var allowed = PretrainedModel.Load(folder, new RunOptions { AllowNonFinite = true });
        Assert.True(allowed.Model.Layers[1].SelfAttention.QProj.Weight.isnan().any().item<bool>());
    }

    [Fact]
    public void AdapterWithInfIsRefusedUnlessAllowed()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create(TinyModels.Config(), seed: 4);
        var config = AdapterConfig.Parse("""{ "peft_type": "MIXLORA", "routing_strategy": "mixlora", "num_experts": 2, "top_k": 1, "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj", "up_proj"] }""", "(test)");
        string adapterDir = dir.File("adapter");
        using (var adapter = Adapter.Create(model, config, new AdapterOptions { Seed = 1 }))
        {
            using (no_grad()) adapter.NamedTensors[0].Value.view(-1)[0] = tensor(float.NegativeInfinity);
            adapter.Save(adapterDir);
        }
        var error = Assert.Throws<InvalidFileException>(() => Adapter.Load(model, adapterDir));
        Assert.Contains(adapterDir, error.Message);
        Assert.Contains("holds 1 NaN or infinite value(s)", error.Message);
        using var allowed = Adapter.Load(model, adapterDir, new AdapterOptions { AllowNonFinite = true });
        Assert.True(allowed.NamedTensors[0].Value.isinf().any().item<bool>());
    }

    [Fact]
    public void CliSaysWhichTensorAndTakesTheOverride()
    {
        using var dir = new TempDir();
        string folder = PoisonedModel(dir);
        string output = dir.File("logits.safetensors");
        var refused = CliRunner.Run("logits", "--model", folder, "--input-ids", "1,2,3", "--output", output);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("q_proj.weight' holds 2 NaN or infinite value(s)", refused.Err);
        Assert.Single(refused.Err.Trim().Split('\n'));
        Assert.False(File.Exists(output));
        var allowed = CliRunner.Run("logits", "--model", folder, "--input-ids", "1,2,3", "--output", output, "--allow-nonfinite");
        Assert.Equal(0, allowed.ExitCode);
        Assert.True(File.Exists(output));
    }
}
