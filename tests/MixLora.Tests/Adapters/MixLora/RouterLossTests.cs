using MixLora.Adapters;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>Router losses: hand-derived values on uniform logits and loop-based re-implementations on random logits.</summary>
public class RouterLossTests
{
    private static List<Tensor> RandomLayers(int layers, int rows, int experts, ulong seed)
    {
        var g = new Generator(seed);
        return Enumerable.Range(0, layers).Select(_ => randn(new long[] { rows, experts }, generator: g) * 2).ToList();
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 3)]
    public void LoadBalancingOfUniformLogitsIsK(int experts, int topK)
    {
        using var scope = NewDisposeScope();
        var loss = RouterLoss.LoadBalancing([zeros(10, experts), zeros(10, experts)], experts, topK, null);
        Assert.Equal(topK, loss.item<float>(), 5);
    }

    [Fact]
    public void LoadBalancingMaskSkipsPaddingRowsOfEveryLayer()
    {
        using var scope = NewDisposeScope();
        var layers = RandomLayers(3, 2 * 4, 5, 1);                                   // B = 2, T = 4
        var mask = tensor(new long[] { 1, 1, 1, 0, 1, 1, 0, 0 }).reshape(2, 4);
        var masked = RouterLoss.LoadBalancing(layers, 5, 2, mask).item<float>();
        // Same value as the unmasked loss over the real rows only.
        var keep = tensor(new long[] { 0, 1, 2, 4, 5 });
        var realRows = layers.Select(l => l.index_select(0, keep)).ToList();
        Assert.Equal(RouterLoss.LoadBalancing(realRows, 5, 2, null).item<float>(), masked, 5);
    }

    [Fact]
    public void LoadBalancingRejectsAMaskThatDoesNotTileTheRows()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => RouterLoss.LoadBalancing([zeros(7, 4)], 4, 2, ones(2, 3)));
        Assert.Contains("B·T = 6", ex.Message);
    }

    [Fact]
    public void SwitchOfZeroLogitsIsLnESquaredPlusOne()
    {
        using var scope = NewDisposeScope();
        // z = (ln E)² per row; every argmax is expert 0 (ties), so f = (1, 0, ...), P = 1/E and aux = E²·(1/E)/E = 1.
        var loss = RouterLoss.Switch([zeros(6, 8), zeros(6, 8)], 8, zLossCoef: 0.01, auxLossCoef: 0.1);
        Assert.Equal(0.01 * Math.Pow(Math.Log(8), 2) + 0.1, loss.item<float>(), 6);
    }

    [Fact]
    public void SwitchMatchesALoopImplementation()
    {
        using var scope = NewDisposeScope();
        const int e = 5;
        var layers = RandomLayers(2, 9, e, 2);
        var rows = layers.SelectMany(l => Rows(l)).ToList();
        double z = rows.Average(r => Math.Pow(Math.Log(r.Sum(Math.Exp)), 2));
        var probs = rows.Select(Softmax).ToList();
        var f = new double[e];
        var p = new double[e];
        foreach (var pr in probs)
        {
            f[Array.IndexOf(pr, pr.Max())] += 1.0 / rows.Count;
            for (int i = 0; i < e; i++) p[i] += pr[i] / rows.Count;
        }
        double aux = Enumerable.Range(0, e).Sum(i => f[i] * p[i]) / e * e * e;
        Assert.Equal(0.2 * z + 0.3 * aux, RouterLoss.Switch(layers, e, 0.2, 0.3).item<float>(), 4);
    }

    [Theory]
    [InlineData(0.8, 0.0, 4.0)]  // cumsum 0.25, 0.5, 0.75, 1.0: crossing at the 4th ⇒ all experts, aux = E·Σ 1·(1/E) = 4
    [InlineData(0.5, 0.0, 3.0)]  // crossing at the 3rd ⇒ 3 experts per row
    [InlineData(0.5, 2.0, 4.0)]  // QUIRK: p / 2 sums to 0.5, never crosses 0.5 ⇒ all 4 (P stays un-tempered)
    public void DynamicOfUniformLogits(double topP, double temperature, double expected)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(expected, RouterLoss.Dynamic([zeros(5, 4)], 4, topP, temperature).item<float>(), 5);
    }

    [Theory]
    [InlineData(0.6, 0.0)]
    [InlineData(0.9, 1.5)]
    public void DynamicMatchesALoopImplementation(double topP, double temperature)
    {
        using var scope = NewDisposeScope();
        const int e = 6;
        var layers = RandomLayers(3, 7, e, 3);
        var rows = layers.SelectMany(l => Rows(l)).ToList();
        var f = new double[e];
        var p = new double[e];
        foreach (var row in rows)
        {
            var pr = Softmax(row);
            var scaled = pr.Select(v => temperature > 0 ? v / temperature : v).ToArray();
            double cumulative = 0;
            foreach (int i in Enumerable.Range(0, e).OrderByDescending(i => scaled[i]))
            {
                f[i] += 1.0 / rows.Count;
                cumulative += scaled[i];
                if (cumulative > topP) break;                                        // the crossing expert is included
            }
            for (int i = 0; i < e; i++) p[i] += pr[i] / rows.Count;
        }
        double aux = e * Enumerable.Range(0, e).Sum(i => f[i] * p[i]);
        Assert.Equal(aux, RouterLoss.Dynamic(layers, e, topP, temperature).item<float>(), 4);
    }

    [Fact]
    public void LossesAreDifferentiableInTheLogits()
    {
        using var scope = NewDisposeScope();
        var logits = RandomLayers(1, 6, 4, 4)[0].requires_grad_(true);
        foreach (var loss in new[]
                 {
                     RouterLoss.LoadBalancing([logits], 4, 2, null), RouterLoss.Switch([logits], 4, 0.1, 0.1),
                     RouterLoss.Dynamic([logits], 4, 0.8, 0),
                 })
        {
            logits.grad?.zero_();
            loss.backward();
            Assert.True(logits.grad!.abs().max().item<float>() > 0);
        }
    }

    private static IEnumerable<double[]> Rows(Tensor t)
    {
        var values = t.to(ScalarType.Float64).data<double>().ToArray();
        int cols = (int)t.shape[1];
        for (int r = 0; r < t.shape[0]; r++) yield return values.AsSpan(r * cols, cols).ToArray();
    }

    private static double[] Softmax(double[] row)
    {
        double max = row.Max();
        var ex = row.Select(v => Math.Exp(v - max)).ToArray();
        double sum = ex.Sum();
        return ex.Select(v => v / sum).ToArray();
    }
}
