using MixLora.Config;
using MixLora.IO;
using MixLora.Tests.Support;

namespace MixLora.Tests.IO;

/// <summary>generation_config.json's eos_token_id (an instruct model's end-of-turn tokens) ends generation too.</summary>
public class GenerationConfigTests
{
    private static string Folder(TempDir dir, string? generationConfig)
    {
        using (TinyModelFolder.Write(dir.Path, TinyModels.Config(), seed: 1)) { }
        if (generationConfig is not null) File.WriteAllText(dir.File(GenerationConfig.FileName), generationConfig);
        return dir.Path;
    }

    [Fact]
    public void ItsEosTokensJoinTheStopIds()
    {
        using var dir = new TempDir();
        using var model = PretrainedModel.Load(Folder(dir, "{\"bos_token_id\": 1, \"eos_token_id\": [2, 7, 9], \"do_sample\": true}"));
        Assert.Equal([2, 7, 9], model.Generation!.EosTokenIds);
        Assert.Superset(new HashSet<int> { 2, 7, 9 }, model.StopIds.ToHashSet());
        Assert.Contains(model.Describe(), row => row.Key == "generation stops at" && row.Value.StartsWith("2 (</s>), 7 (") && row.Value.EndsWith("(with generation_config.json)"));

        using var single = new TempDir();
        using var one = PretrainedModel.Load(Folder(single, "{\"eos_token_id\": 11}"));
        Assert.Contains(11, one.StopIds);
    }

    [Fact]
    public void WithoutTheFileTheStopIdsComeFromConfigAndTokenizer()
    {
        using var dir = new TempDir();
        using var model = PretrainedModel.Load(Folder(dir, null));
        Assert.Null(model.Generation);
        Assert.Equal([2], model.StopIds);
    }

    [Theory]
    [InlineData("{\"eos_token_id\": \"</s>\"}", "eos_token_id must be a token id or a list of token ids, got \"</s>\"")]
    [InlineData("{\"eos_token_id\": [2, -1]}", "eos_token_id must be a token id or a list of token ids, got [2, -1]")]
    [InlineData("{\"eos_token_id\": ", "not valid JSON")]
    public void AMalformedFileIsNamed(string json, string expected)
    {
        using var dir = new TempDir();
        var error = Assert.Throws<InvalidFileException>(() => PretrainedModel.Load(Folder(dir, json)));
        Assert.Contains(GenerationConfig.FileName, error.Message);
        Assert.Contains(expected, error.Message);
    }
}
