using MixLora.Models;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Models;

public class KvCacheTests
{
    public static TheoryData<string, bool, bool, bool, bool, int?> Variants => new()
    {
        // family, gqa, tied, llama3 rope, bias, sliding window
        { "llama", true, false, false, false, null },
        { "llama", false, true, false, false, null },
        { "llama", true, true, true, true, null },
        { "qwen2", true, false, false, true, null },
        { "mistral", true, false, false, false, 5 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void CachedDecodingEqualsFullRecompute(string family, bool gqa, bool tied, bool llama3, bool bias, int? window)
    {
        using var model = TinyModels.Create(TinyModels.Config(family, gqa, tied, llama3, bias, window), seed: 7);
        using var _ = no_grad();
        using var ids = randint(3, 97, [2, 13], generator: new Generator(3));
        using var full = model.Forward(ids);

        using var cache = new KvCache(model.Layers.Count, initialCapacity: 2); // forces the buffers to grow
        var pieces = new List<Tensor>();
        int[] chunks = [5, 1, 1, 3, 1, 2];
        int start = 0;
        foreach (var n in chunks)
        {
            using var output = model.Forward(ids.narrow(1, start, n), cache: cache);
            pieces.Add(output.Logits.clone());
            start += n;
        }
        Assert.Equal(13, cache.Length);
        using var incremental = cat(pieces, dim: 1);
        TensorAssert.Close(full.Logits, incremental, 1e-5, "cached vs full logits");
        foreach (var p in pieces) p.Dispose();
    }

    [Fact]
    public void LeftPaddedRowMatchesUnpaddedSequence()
    {
        using var model = TinyModels.Create(TinyModels.Config(), seed: 11);
        using var _ = no_grad();
        long[] real = [1, 5, 9, 14, 20, 33];
        using var single = model.Forward(tensor(real).unsqueeze(0));

        // Row 0 has 3 pads on the left; positions count real tokens only, as HF does for left padding.
        using var batch = tensor(new long[] { 0, 0, 0, 1, 5, 9, 14, 20, 33, 1, 2, 3, 4, 5, 6, 7, 8, 9 }).view(2, 9);
        using var mask = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }).view(2, 9);
        using var positions = (mask.cumsum(1) - 1).clamp_min(0);
        using var padded = model.Forward(batch, attentionMask: mask, positions: positions);
        TensorAssert.Close(single.Logits[0], padded.Logits[0].narrow(0, 3, 6), 1e-5, "left-padded row");
        Assert.False(padded.Logits.isnan().any().item<bool>());
    }

    [Fact]
    public void RightPaddingDoesNotChangeRealPositions()
    {
        using var model = TinyModels.Create(TinyModels.Config(family: "qwen2", bias: true), seed: 12);
        using var _ = no_grad();
        using var single = model.Forward(tensor(new long[] { 1, 7, 8, 9 }).unsqueeze(0));
        using var batch = tensor(new long[] { 1, 7, 8, 9, 0, 0, 1, 4, 5, 6, 7, 8 }).view(2, 6);
        using var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1 }).view(2, 6);
        using var padded = model.Forward(batch, attentionMask: mask);
        TensorAssert.Close(single.Logits[0], padded.Logits[0].narrow(0, 0, 4), 1e-5, "right-padded row");
    }
}
