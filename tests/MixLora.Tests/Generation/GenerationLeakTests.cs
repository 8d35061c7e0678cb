using MixLora.Generation;
using MixLora.Tests.Support;
using TorchSharp;

namespace MixLora.Tests.Generation;

public class GenerationLeakTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GenerationLeavesNoLiveTensorsBehind(bool useCache)
    {
        using var model = Stories260K.Load();
        var generator = new TokenGenerator(model.Model);
        var options = new SamplingOptions { Seed = 1, MaxNewTokens = 40, UseCache = useCache };
        // Warm up once (lazily created tensors, caches), then measure.
        _ = generator.Generate([1], options, model.StopIds).ToList();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var ids = generator.Generate([1], options with { MaxNewTokens = 120 }, stopIds: []).ToList();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(120, ids.Count);
        Assert.Equal(before, after);
    }

    [Fact]
    public void SamplingHonoursTopKOfOneAsGreedy()
    {
        using var model = Stories260K.Load();
        var generator = new TokenGenerator(model.Model);
        var greedy = generator.Generate([1], new SamplingOptions { Temperature = 0, RepetitionPenalty = 1, MaxNewTokens = 30 }, []).ToList();
        var topK1 = generator.Generate([1], new SamplingOptions { Temperature = 1.3, TopK = 1, RepetitionPenalty = 1, MaxNewTokens = 30, Seed = 3 }, []).ToList();
        Assert.Equal(greedy, topK1);
    }

    [Fact]
    public void GenerationStopsAtEosAndAtTheContextLimit()
    {
        using var model = Stories260K.Load();
        var generator = new TokenGenerator(model.Model);
        var stopAtSpace = generator.Generate([1], new SamplingOptions { Temperature = 0, RepetitionPenalty = 1 }, stopIds: [407]).ToList();
        Assert.Equal([403], stopAtSpace); // greedy ids start 403, 407, ...: stops before emitting 407
        var longPrompt = Enumerable.Repeat(1, 510).ToList();
        var tail = generator.Generate(longPrompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 50 }, []).ToList();
        Assert.Equal(2, tail.Count); // context of 512
    }
}
