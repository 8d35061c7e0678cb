using MixLora.Training;
using TorchSharp;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

public class AdamWTests
{
    // Three steps with known gradients, two groups at different learning rates, a schedule scale change and weight
    // decay, against AdamW written out in double precision:
    //   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
    //   p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
    [Fact]
    public void Three_steps_match_the_adamw_formulas()
    {
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.1;
        double[] start = [0.5, -1.0, 2.0];
        double[][] grads = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.3], [1.5, 0.0, -0.25]];
        double[] scales = [1.0, 0.5, 0.25];
        double[] baseLr = [0.01, 0.04];

        using var a = Param([.. start.Select(v => (float)v)]);
        using var b = Param([.. start.Select(v => (float)-v)]);
        var groups = new[]
        {
            new ParameterGroup("A", baseLr[0], [("a", a)]),
            new ParameterGroup("B", baseLr[1], [("b", b)]),
        };
        using var adamw = new AdamW(groups, weightDecay: wd);

        var expected = new[] { start.ToArray(), start.Select(v => -v).ToArray() };
        var m = new[] { new double[3], new double[3] };
        var v = new[] { new double[3], new double[3] };
        for (int t = 1; t <= 3; t++)
        {
            SetGrad(a, grads[t - 1]);
            SetGrad(b, [.. grads[t - 1].Select(g => -g)]);
            adamw.SetLearningRateScale(scales[t - 1]);
            adamw.Step();
            adamw.ZeroGrad();
            for (int k = 0; k < 2; k++)
            {
                double lr = baseLr[k] * scales[t - 1];
                for (int i = 0; i < 3; i++)
                {
                    double g = (float)(k == 0 ? grads[t - 1][i] : -grads[t - 1][i]);
                    expected[k][i] *= 1 - lr * wd;
                    m[k][i] = beta1 * m[k][i] + (1 - beta1) * g;
                    v[k][i] = beta2 * v[k][i] + (1 - beta2) * g * g;
                    double mHat = m[k][i] / (1 - Math.Pow(beta1, t));
                    double vHat = v[k][i] / (1 - Math.Pow(beta2, t));
                    expected[k][i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
                }
            }
            AssertClose(expected[0], Values(a), 2e-6, $"a after step {t}");
            AssertClose(expected[1], Values(b), 2e-6, $"b after step {t}");
        }
        AssertClose(m[0], Values(adamw.StateOf("a")!.Buffers[AdamW.ExpAvg]), 1e-7, "exp_avg");
        AssertClose(v[1], Values(adamw.StateOf("b")!.Buffers[AdamW.ExpAvgSq]), 1e-9, "exp_avg_sq");
        Assert.Equal(3, adamw.StateOf("a")!.Step);
    }

    [Fact]
    public void First_step_moves_each_element_by_the_learning_rate()
    {
        // With no weight decay, |m̂ / √v̂| = 1 on the first step whatever the gradient: a classic Adam property.
        using var p = Param(1f, 1f, 1f);
        using var adamw = new AdamW(ParameterGroups.Single([("p", p)], 0.1), weightDecay: 0);
        SetGrad(p, 3.0, -0.5, 0.25);
        adamw.Step();
        AssertClose([0.9, 1.1, 0.9], Values(p), 1e-6, "p");
    }

    [Fact]
    public void Parameters_without_gradient_are_skipped_and_get_no_state()
    {
        using var withGrad = Param(1f, 2f);
        using var without = Param(3f, 4f);
        using var adamw = new AdamW(ParameterGroups.Single([("with", withGrad), ("without", without)], 0.1), weightDecay: 0.5);
        SetGrad(withGrad, 1.0, 1.0);
        adamw.Step();
        Assert.Equal([3.0, 4.0], Values(without));     // not even weight decay touches it
        Assert.NotEqual([1.0, 2.0], Values(withGrad));
        Assert.Null(adamw.StateOf("without"));
        Assert.Equal(1, adamw.StateCount);

        adamw.ZeroGrad();
        Assert.Null(withGrad.grad);
        var before = Values(withGrad);
        adamw.Step(); // no gradients at all: nothing moves, step counters stay
        Assert.Equal(before, Values(withGrad));
        Assert.Equal(1, adamw.StateOf("with")!.Step);
    }

    [Fact]
    public void Steps_leak_no_tensors()
    {
        var generator = new Generator(5);
        using var p = Param([8, 4], generator);
        using var q = Param([4], generator);
        using var adamw = new AdamW(ParameterGroups.ForLoraPlus([("x.lora_A.weight", p), ("x.bias", q)], 1e-3, 16));
        void OneStep()
        {
            using (NewDisposeScope())
            {
                SetGrad(p, randn([8, 4], generator: generator));
                SetGrad(q, randn([4], generator: generator));
            }
            // Outside any scope, so a temporary the optimizer forgot to dispose would stay alive and be counted.
            adamw.Step();
            adamw.ZeroGrad();
        }
        OneStep(); // creates the moment buffers
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) OneStep();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(51, adamw.StateOf("x.bias")!.Step);
    }

    [Fact]
    public void Invalid_settings_are_rejected()
    {
        using var p = Param(1f);
        var groups = ParameterGroups.Single([("p", p)], 0.1);
        Assert.Throws<MixLoraException>(() => new AdamW(groups, beta1: 1.0));
        Assert.Throws<MixLoraException>(() => new AdamW(groups, weightDecay: -1));
        var error = Assert.Throws<MixLoraException>(() => new AdamW([.. groups, new ParameterGroup("again", 0.1, [("p", p)])]));
        Assert.Contains("'p'", error.Message);
    }

    internal static void AssertClose(double[] expected, double[] actual, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= atol, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }
}
