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
        using (TinyModelFolder.Write(folder, TinyModels.Config(vocab: 512), seed: 3)) { }   // the bundled tokenizer's 512 ids
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
        Assert.True(allowed.Model.Layers[1].SelfAttention.QProj!.Weight.isnan().any().item<bool>());
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

    [Theory]
    [InlineData("0")]   // greedy
    [InlineData("0.8")] // sampling (multinomial would abort the process on NaN)
    public void GenerationFromNaNWeightsIsAClearErrorNotACrash(string temperature)
    {
        using var dir = new TempDir();
        string folder = PoisonedModel(dir);
        var result = CliRunner.Run("generate", "--model", folder, "--allow-nonfinite", "-t", temperature, "-n", "4", "--seed", "1", "--no-stream");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the model produced non-finite next-token scores (", result.Err);
        Assert.DoesNotContain("   at ", result.Err);
    }

    [Fact]
    public void TheSamplerNamesWhatIsWrongWithARow()
    {
        var processor = new MixLora.Generation.LogitsProcessor(new MixLora.Generation.SamplingOptions { Temperature = 1.0, Seed = 1 });
        using var nan = tensor(new[] { 0f, float.NaN, 1f, float.PositiveInfinity });
        Assert.Contains("(1 NaN, 1 +Inf of 4)", Assert.Throws<MixLoraException>(() => processor.Next(nan, [1])).Message);
        using var masked = full(3, float.NegativeInfinity);
        Assert.Contains("(every score is -Inf)", Assert.Throws<MixLoraException>(() => processor.Next(masked, [1])).Message);
        using var fine = tensor(new[] { float.NegativeInfinity, 2f, float.NegativeInfinity });
        Assert.Equal(1, processor.Next(fine, [1]));                 // −∞ alone only masks tokens
    }

    [Fact]
    public void APromptOutsideTheVocabularyIsAClearError()
    {
        using var dir = new TempDir();
        string folder = dir.File("model");
        using (TinyModelFolder.Write(folder, TinyModels.Config(vocab: 97), seed: 3)) { }    // smaller than the tokenizer
        var result = CliRunner.Run("generate", "--model", folder, "-p", "Once upon a time", "-n", "2", "--no-stream");
        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"prompt token id \d+ is outside the model's vocabulary \[0, 97\); the tokenizer does not belong to this model", result.Err);
    }
}
