using System.Text.Json;
using MixLora.Generation;
using MixLora.Tests.Support;

namespace MixLora.Tests.Golden;

/// <summary>Greedy decoding from BOS must reproduce llama2.c's run.c output for stories260K.</summary>
public class GreedyGenerationGoldenTests
{
    private static int[] ExpectedIds()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Asset("stories260K", "expected_greedy_256.json")));
        return doc.RootElement.GetProperty("generated_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    [Theory]
    [InlineData(true, 256)]
    [InlineData(false, 200)]
    public void GreedyIdsMatchLlama2c(bool useCache, int steps)
    {
        using var model = Stories260K.LoadModel();
        var options = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.0, MaxNewTokens = steps, UseCache = useCache };
        var generated = new TokenGenerator(model).Generate([1], options, stopIds: []).ToArray();
        var expected = ExpectedIds().Take(steps).ToArray();
        Assert.Equal(expected, generated);
    }
}
