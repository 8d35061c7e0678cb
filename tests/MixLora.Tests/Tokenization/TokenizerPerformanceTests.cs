using System.Diagnostics;
using MixLora.Tests.Support;
using MixLora.Tokenization;
using Xunit.Abstractions;

namespace MixLora.Tests.Tokenization;

/// <summary>
/// Load and encode times with generous bounds (the targets are ~2 s to load the 9-11 MB tokenizer.json files, ~3 s
/// for Gemma-3's 33 MB one, milliseconds to encode).
/// </summary>
public class TokenizerPerformanceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("llama2")]
    [InlineData("gemma3")]   // 33 MB tokenizer.json (read from its .gz): 262,144 tokens, 514,906 merges
    public void TokenizerLoadsAndEncodesQuickly(string model)
    {
        var clock = Stopwatch.StartNew();
        var tokenizer = TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", model));
        var loadTime = clock.Elapsed;

        string text = string.Concat(Enumerable.Repeat(string.Join("\n", TokenizerGolden.Strings()), 3));   // ~4 KB
        tokenizer.Encode(text);   // warm up the regex and the JIT
        clock.Restart();
        var ids = tokenizer.Encode(text + " fresh words to miss the cache: zyxwv qutsr");
        var encodeTime = clock.Elapsed;
        output.WriteLine($"{model}: load {loadTime.TotalMilliseconds:F0} ms, encode {text.Length} chars -> {ids.Count} ids in {encodeTime.TotalMilliseconds:F1} ms");

        // Loose bounds: they catch pathological slowness, not noise from other processes on a loaded 2-core machine.
        Assert.True(loadTime < TimeSpan.FromSeconds(30), $"loading took {loadTime}");
        Assert.True(encodeTime < TimeSpan.FromSeconds(2), $"encoding took {encodeTime}");
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSameIds()
    {
        var tokenizer = TokenizerGolden.Tokenizer("llama3");
        var cases = TokenizerGolden.Cases("llama3");
        Parallel.For(0, cases.Count * 8, i =>
        {
            var golden = cases[i % cases.Count];
            Assert.Equal(golden.Ids, tokenizer.Encode(golden.Text, addSpecialTokens: false));
        });
    }
}
