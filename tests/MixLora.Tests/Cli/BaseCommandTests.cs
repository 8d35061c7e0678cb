using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;

namespace MixLora.Tests.Cli;

public class BaseCommandTests
{
    [Fact]
    public void GenerateWithoutOptionsUsesTheBundledModelAndGreedyMatchesLlama2c()
    {
        var result = CliRunner.Run("generate", "--temperature", "0", "--repetition-penalty", "1", "-n", "30", "--no-stream");
        Assert.Equal(0, result.ExitCode);
        // llama2.c's greedy story for stories260K starts like this (assets/stories260K/expected_greedy_256.json).
        Assert.StartsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", result.Out);
        Assert.Contains("tokens/s", result.Err);
    }

    [Fact]
    public void EmptyPromptStartsFromBosAndSeedMakesSamplingReproducible()
    {
        var a = CliRunner.Run("generate", "--prompt", "", "--seed", "7", "-n", "20", "--no-stream");
        var b = CliRunner.Run("generate", "--prompt", "", "--seed", "7", "-n", "20", "--no-stream");
        var c = CliRunner.Run("generate", "--prompt", "", "--seed", "8", "-n", "20", "--no-stream");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Out, b.Out);
        Assert.NotEqual(a.Out, c.Out);
        Assert.True(a.Out.Trim().Length > 10);
    }

    [Fact]
    public void StreamingAndNonStreamingPrintTheSameText()
    {
        var streamed = CliRunner.Run("generate", "-t", "0", "-n", "25", "--prompt", "Lily had a dog");
        var whole = CliRunner.Run("generate", "-t", "0", "-n", "25", "--prompt", "Lily had a dog", "--no-stream");
        Assert.Equal(whole.Out, streamed.Out);
        Assert.StartsWith("Lily had a dog", whole.Out);
    }

    [Fact]
    public void GeneratedTextKeepsTheSpaceAfterThePrompt()
    {
        // SentencePiece strips the first piece's space when ids are decoded alone; the streamer decodes after the prompt.
        var streamed = CliRunner.Run("generate", "-t", "0", "-n", "3", "--repetition-penalty", "1", "--prompt", "Once upon a");
        var whole = CliRunner.Run("generate", "-t", "0", "-n", "3", "--repetition-penalty", "1", "--prompt", "Once upon a", "--no-stream");
        Assert.StartsWith("Once upon a time", streamed.Out);
        Assert.StartsWith("Once upon a time", whole.Out);
    }

    [Fact]
    public void LogitsWritesTheReferenceLogits()
    {
        using var dir = new TempDir();
        var ids = string.Join(",", GoldenData.Ids("input_ids_1"));
        var result = CliRunner.Run("logits", "--model", Stories260K.Dir, "--input-ids", ids, "--output", dir.File("out.safetensors"));
        Assert.Equal(0, result.ExitCode);
        var written = SafeTensorsFile.Load(dir.File("out.safetensors"));
        Assert.Equal(["logits"], written.Keys);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, written["logits"].dtype);
        TensorAssert.Close(GoldenData.Get("base_logits_1"), written["logits"], 1e-4, "CLI logits");
    }

    [Fact]
    public void InfoDescribesTheModel()
    {
        var result = CliRunner.Run("info", "--model", Stories260K.Dir);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("llama", result.Out);
        Assert.Contains("260,032", result.Out);
        Assert.Contains("8 / 4 / 8", result.Out);
        Assert.Contains("sentencepiece", result.Out);
    }

    [Fact]
    public void InfoListsTheSupportedFamilies()
    {
        var result = CliRunner.Run("info", "--families");
        Assert.Equal(0, result.ExitCode);
        foreach (var type in ModelConfig.SupportedModelTypes) Assert.Contains(type, result.Out);
        Assert.Equal(ModelConfig.SupportedModelTypes.Order(), MixLora.Config.ModelFamilies.All.Select(f => f.ModelType).Order());
    }

    [Fact]
    public void ConvertLlama2cWritesALoadableFolder()
    {
        using var dir = new TempDir();
        var output = dir.File("hf");
        var result = CliRunner.Run("convert", "llama2c", "--checkpoint", RepoPaths.Asset("stories260K", "stories260K.bin"),
            "--tokenizer", RepoPaths.Asset("stories260K", "tok512.model"), "--output", output);
        Assert.Equal(0, result.ExitCode);
        var generated = CliRunner.Run("generate", "--model", output, "-t", "0", "-n", "10", "--no-stream");
        Assert.StartsWith("Once upon a time, there was a little girl named Lily", generated.Out);
    }

    [Theory]
    [InlineData("model folder not found", "generate", "--model", "/nonexistent/model")]
    [InlineData("--top-p must be in (0, 1]", "generate", "--top-p", "1.5")]
    [InlineData("--temperature must be a finite number ≥ 0", "generate", "--temperature", "-1")]
    [InlineData("--temperature must be a finite number ≥ 0", "generate", "--temperature", "Infinity")]
    [InlineData("--repetition-penalty must be a finite number > 0", "generate", "--repetition-penalty", "Infinity")]
    [InlineData("--expert-path chooses how MixLoRA experts are computed; give a MixLoRA adapter", "generate", "--expert-path", "fused")]
    [InlineData("--expert-path chooses how MixLoRA experts are computed; give a MixLoRA adapter", "logits", "--expert-path", "vanilla", "--input-ids", "1,2", "--output", "/tmp/never.safetensors")]
    [InlineData("--dtype \"float8\" is not supported", "generate", "--dtype", "float8")]
    [InlineData("\"x\" is not a non-negative integer token id", "logits", "--input-ids", "1,x", "--output", "/tmp/never.safetensors")]
    [InlineData("token id 9999 is outside the vocabulary", "logits", "--input-ids", "1,9999", "--output", "/tmp/never.safetensors")]
    [InlineData("too short for a llama2.c header", "convert", "llama2c", "--checkpoint", "/etc/hostname", "--tokenizer", "/etc/hostname", "--output", "/tmp/never")]
    public void UserMistakesGiveOneLineErrorsAndExitCode1(string expected, params string[] args)
    {
        var result = CliRunner.Run(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Err);
        Assert.DoesNotContain("   at ", result.Err); // no stack trace
        Assert.Single(result.Err.Trim().Split('\n'));
        Assert.False(File.Exists("/tmp/never.safetensors"));
    }

    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        var result = CliRunner.Run("generate", "--bogus");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--bogus", result.Err);
    }

    [Fact]
    public void HelpListsTheCommands()
    {
        var result = CliRunner.Run("--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "generate", "logits", "info", "convert" }) Assert.Contains(command, result.Out);
    }

    [Fact]
    public void GreedyIsTheArgmaxByDefault()
    {
        var byDefault = CliRunner.Run("generate", "-t", "0", "-n", "80", "--no-stream");
        var noPenalty = CliRunner.Run("generate", "-t", "0", "-n", "80", "--no-stream", "--repetition-penalty", "1");
        var referencePenalty = CliRunner.Run("generate", "-t", "0", "-n", "80", "--no-stream", "--repetition-penalty", "3");
        Assert.Equal(0, byDefault.ExitCode);
        Assert.Equal(noPenalty.Out, byDefault.Out);
        Assert.NotEqual(referencePenalty.Out, byDefault.Out); // the penalty is still there when asked for
    }
}
