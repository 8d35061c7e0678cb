using static TorchSharp.torch;

namespace MixLora.Tests.Support;

/// <summary>Tensor comparisons with explicit tolerances and informative failure messages.</summary>
public static class TensorAssert
{
    /// <summary>max |actual − expected| ≤ atol (shapes must match).</summary>
    public static void Close(Tensor expected, Tensor actual, double atol, string what = "tensor")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max();
        double max = diff.item<double>();
        Assert.True(max <= atol, $"{what}: max abs difference {max:E3} exceeds {atol:E1}");
    }

    /// <summary>The maximum absolute difference, for reporting.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }
}
