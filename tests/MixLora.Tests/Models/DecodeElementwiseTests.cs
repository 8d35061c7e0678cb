using MixLora.Models;
using MixLora.Models.Kernels;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Models;

/// <summary>The decode step's one-pass RMSNorm and rotary embedding equal the libtorch versions.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class DecodeElementwiseTests
{
    private static Tensor WithoutKernels(Func<Tensor> compute)
    {
        SmallBatchLinear.Enabled = false;
        try
        {
            return compute();
        }
        finally
        {
            SmallBatchLinear.Enabled = true;
        }
    }

    [Theory]
    [InlineData(1, 1024)]
    [InlineData(8, 64)]
    public void RmsNormEqualsTheLibtorchVersion(int rows, int hidden)
    {
        var g = new Generator(31);
        using var norm = new RmsNorm(1 + 0.1 * randn([hidden], generator: g), 1e-5);
        using var x = 3 * randn([rows, 1, hidden], generator: g);
        using var _ = no_grad();
        using var expected = WithoutKernels(() => norm.forward(x));
        using var fast = DecodeElementwise.TryRmsNorm(x, norm.Weight, 1e-5);
        Assert.NotNull(fast);
        TensorAssert.Close(expected, fast, 2e-6, "rms norm");
        Assert.Null(DecodeElementwise.TryRmsNorm(randn(9, 1, hidden), norm.Weight, 1e-5));   // more rows: libtorch
    }

    [Theory]
    [InlineData(1, 16, 64, true)]
    [InlineData(3, 4, 8, false)]
    public void RotaryEqualsTheLibtorchVersion(int b, int heads, int hd, bool sharedTables)
    {
        var g = new Generator(37);
        using var x = randn([b, 1, heads, hd], generator: g).transpose(1, 2);          // [B, heads, 1, hd] as the attention makes it
        using var angles = rand([sharedTables ? 1 : b, 1, 1, hd / 2], generator: g) * 50;
        using var emb = cat([angles, angles], -1);
        using var cos = emb.cos();
        using var sin = emb.sin();
        using var _ = no_grad();
        using var expected = WithoutKernels(() => RotaryEmbedding.Apply(x, cos, sin));
        using var fast = DecodeElementwise.TryRotary(x, cos, sin);
        Assert.NotNull(fast);
        TensorAssert.Close(expected, fast, 1e-6, "rotary");
        using var twoPositions = randn(b, heads, 2, hd);
        Assert.Null(DecodeElementwise.TryRotary(twoPositions, cos, sin));
    }
}
