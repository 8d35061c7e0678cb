using System.Runtime.Intrinsics;
using MixLora.Models.Kernels;

namespace MixLora.Tests.Models;

/// <summary>The decode kernels' vector exp, softmax and eight-row dot products against scalar arithmetic in double precision.</summary>
public class VectorOpsTests
{
    [Fact]
    public void ExpIsWithinTwoUlpOverTheRangeAndZeroBelowIt()
    {
        var inputs = Enumerable.Range(0, 20001).Select(i => -87f + i * (175f / 20000)).Concat([0f, -1e-7f, 1e-7f, 88f]).ToArray();
        foreach (var x in inputs)
        {
            double expected = Math.Exp(x);
            float actual = VectorOps.Exp(Vector256.Create(x)).GetElement(3);
            Assert.True(Math.Abs(actual - expected) <= 2.5e-7 * expected, $"exp({x:R}) = {actual:R}, expected {expected:R}");
        }
        Assert.Equal(0f, VectorOps.Exp(Vector256.Create(float.NegativeInfinity)).GetElement(0));
        Assert.Equal(0f, VectorOps.Exp(Vector256.Create(-100f)).GetElement(7));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(21)]
    [InlineData(640)]
    public unsafe void SoftmaxSumsToOneAndMatchesTheDefinition(int n)
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
        if (n > 2) values[1] = float.NegativeInfinity; // a masked key
        var expected = Softmax(values);
        fixed (float* p = values) VectorOps.SoftmaxInPlace(p, n);
        for (int j = 0; j < n; j++) Assert.True(Math.Abs(values[j] - expected[j]) <= 1e-6 * Math.Max(expected[j], 1e-3), $"p[{j}] = {values[j]:R}, expected {expected[j]:R}");
        Assert.Equal(1.0, values.Sum(v => (double)v), 5);
        if (n > 2) Assert.Equal(0f, values[1]);
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(19, 64)]
    [InlineData(5, 12)]   // a length that is not a multiple of 8 takes the scalar dot for every row
    public unsafe void RowDotsEqualsPerRowDotProducts(int rows, int n)
    {
        var random = new Random(rows * 100 + n);
        var matrix = Enumerable.Range(0, rows * n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var vector = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var output = new float[rows];
        fixed (float* m = matrix, v = vector, o = output) VectorOps.RowDots(m, v, rows, n, o);
        for (int j = 0; j < rows; j++)
        {
            double expected = Enumerable.Range(0, n).Sum(c => (double)matrix[j * n + c] * vector[c]);
            Assert.Equal(expected, output[j], 5);
        }
    }

    private static double[] Softmax(float[] values)
    {
        double max = values.Max();
        var e = values.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }
}
