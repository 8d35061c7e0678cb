using MixLora.Tests.Support;
using MixLora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

/// <summary>The chunked LM-head loss equals the plain head + <see cref="CausalLmLoss"/> in value and input gradient.</summary>
public class ChunkedCausalLmLossTests
{
    private static (float Loss, Tensor Grad) Plain(Tensor hidden, Tensor weight, Tensor ids, Tensor? mask, double scale)
    {
        var h = hidden.detach().clone().requires_grad_(true);
        var loss = CausalLmLoss.Compute(nn.functional.linear(h, weight), ids, mask);
        (loss * scale).backward();
        return (loss.item<float>(), h.grad!.clone());
    }

    private static (float Loss, Tensor Grad) Chunked(Tensor hidden, Tensor weight, Tensor ids, Tensor? mask, double scale, int chunk)
    {
        var h = hidden.detach().clone().requires_grad_(true);
        var loss = ChunkedCausalLmLoss.Compute(h, weight, ids, mask, chunk);
        (loss * scale).backward();
        return (loss.item<float>(), h.grad!.clone());
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 5)]
    [InlineData(true, 3)]
    [InlineData(true, 1000)]
    public void MatchesThePlainHeadAndLoss(bool masked, int chunkRows)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(4);
        long b = 3, t = 6, h = 8, v = 37;
        var hidden = randn(new[] { b, t, h }, generator: g);
        var weight = randn(new[] { v, h }, generator: g);
        var ids = randint(0, v, new[] { b, t }, generator: g);
        Tensor? mask = masked ? randint(0, 2, new[] { b, t }, generator: g) : null;
        if (masked) mask![0, 3] = tensor(1L); // at least one counted target
        var plain = Plain(hidden, weight, ids, mask, 0.7);
        var chunked = Chunked(hidden, weight, ids, mask, 0.7, chunkRows);
        Assert.True(plain.Loss > 1, "the loss of random logits should be well above zero");
        Assert.Equal(plain.Loss, chunked.Loss, 1e-5);
        TensorAssert.Close(plain.Grad, chunked.Grad, 1e-6, "dL/dh");
        Assert.True(plain.Grad.abs().max().item<float>() > 1e-3, "the gradient must not vanish");
        // The last position predicts nothing: its gradient is exactly zero.
        Assert.Equal(0f, chunked.Grad.select(1, t - 1).abs().max().item<float>());
    }

    [Fact]
    public void AllPositionsMaskedGivesZeroLossAndGradient()
    {
        using var scope = NewDisposeScope();
        var hidden = randn(2, 4, 8);
        var weight = randn(11, 8);
        var ids = randint(0, 11, new long[] { 2, 4 });
        var (loss, grad) = Chunked(hidden, weight, ids, zeros(2, 4, dtype: ScalarType.Int64), 1.0, 3);
        Assert.Equal(0f, loss);
        Assert.Equal(0f, grad.abs().max().item<float>());
    }

    [Fact]
    public void WithoutGradientsGivesTheSameLoss()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(9);
        var hidden = randn(new long[] { 2, 5, 8 }, generator: g);
        var weight = randn(new long[] { 13, 8 }, generator: g);
        var ids = randint(0, 13, new long[] { 2, 5 }, generator: g);
        var expected = CausalLmLoss.Compute(nn.functional.linear(hidden, weight), ids).item<float>();
        using (no_grad())
            Assert.Equal(expected, ChunkedCausalLmLoss.Compute(hidden.requires_grad_(true), weight, ids, chunkRows: 3).item<float>(), 1e-5);
        // A frozen input needs no gradient either, with grad mode on.
        var frozen = ChunkedCausalLmLoss.Compute(hidden.detach(), weight, ids, chunkRows: 4);
        Assert.Equal(expected, frozen.item<float>(), 1e-5);
        Assert.False(frozen.requires_grad);
    }
}
