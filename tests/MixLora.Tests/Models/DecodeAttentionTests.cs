using MixLora.Models.Kernels;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Models;

/// <summary>The decode attention kernel equals libtorch's attention with the KV heads expanded, with and without masks.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class DecodeAttentionTests
{
    [Theory]
    [InlineData(1, 16, 4, 640, 64, "none")]
    [InlineData(3, 8, 2, 37, 16, "per-row")]
    [InlineData(2, 4, 4, 9, 8, "shared")]
    [InlineData(2, 4, 2, 21, 80, "per-row")]   // head_dim = one block of 64 columns plus a tail of 16
    [InlineData(1, 2, 1, 8, 128, "none")]      // two blocks of 64
    public void EqualsExpandedScaledDotProductAttention(int b, int heads, int kvHeads, int s, int hd, string maskKind)
    {
        var g = new Generator(23);
        using var q = randn([b, heads, 1, hd], generator: g);
        // A cache buffer with spare capacity, read through a narrow view as the decoder does.
        using var kBuffer = randn([b, kvHeads, s + 5, hd], generator: g);
        using var vBuffer = randn([b, kvHeads, s + 5, hd], generator: g);
        using var k = kBuffer.narrow(2, 0, s);
        using var v = vBuffer.narrow(2, 0, s);
        using var mask = maskKind switch
        {
            "per-row" => rand([b, 1, 1, s], generator: g).gt(0.3).logical_or(arange(s).eq(s - 1).view(1, 1, 1, s)),
            "shared" => arange(s).ge(2).view(1, 1, 1, s),
            _ => null,
        };
        using var _ = no_grad();
        using var actual = DecodeAttention.TryForward(q, k, v, mask);
        Assert.NotNull(actual);
        using var kx = k.repeat_interleave(heads / kvHeads, dim: 1);
        using var vx = v.repeat_interleave(heads / kvHeads, dim: 1);
        using var expected = mask is null ? nn.functional.scaled_dot_product_attention(q, kx, vx) : nn.functional.scaled_dot_product_attention(q, kx, vx, attn_mask: mask);
        TensorAssert.Close(expected, actual, 1e-5, "decode attention");
    }

    [Fact]
    public void AnotherScaleAndSoftCappedScoresEqualTheirDefinition()
    {
        var g = new Generator(29);
        using var q = randn([2, 4, 1, 16], generator: g) * 3;                    // large scores, so the cap of 0.7 bites
        using var k = randn([2, 2, 11, 16], generator: g);
        using var v = randn([2, 2, 11, 16], generator: g);
        using var mask = rand([2, 1, 1, 11], generator: g).gt(0.3).logical_or(arange(11).eq(10).view(1, 1, 1, 11));
        using var _ = no_grad();
        const double scale = 0.2, cap = 0.7;
        using var actual = DecodeAttention.TryForward(q, k, v, mask, scale, cap);
        Assert.NotNull(actual);
        using var kx = k.repeat_interleave(2, dim: 1);
        using var vx = v.repeat_interleave(2, dim: 1);
        using var scores = (matmul(q, kx.transpose(-2, -1)) * scale / cap).tanh() * cap;     // [2, 4, 1, 11]
        using var expected = matmul(scores.masked_fill(mask.logical_not(), float.NegativeInfinity).softmax(-1), vx);
        TensorAssert.Close(expected, actual, 1e-5, "scaled, capped decode attention");
        using var uncapped = DecodeAttention.TryForward(q, k, v, mask, scale);
        Assert.True(TensorAssert.MaxAbsDiff(expected, uncapped!) > 1e-2, "the cap changes the output");
    }

    [Fact]
    public void WhatItCannotTakeGoesToLibtorch()
    {
        using var _ = no_grad();
        using var q = randn(1, 4, 2, 8);                          // two query positions: not a decode step
        using var k = randn(1, 4, 5, 8);
        Assert.Null(DecodeAttention.TryForward(q, k, k, null));
        using var q1 = randn(1, 4, 1, 8);
        using var strided = randn(1, 5, 4, 8).transpose(1, 2);    // keys not dense per head
        Assert.Null(DecodeAttention.TryForward(q1, strided, strided, null));
        using var q6 = randn(1, 4, 1, 6);                          // head_dim not a multiple of 8
        using var k6 = randn(1, 4, 5, 6);
        Assert.Null(DecodeAttention.TryForward(q6, k6, k6, null));
    }
}
