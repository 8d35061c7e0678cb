using MixLora.Training;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

public class SgdTests
{
    // torch.optim.SGD (dampening 0, no Nesterov) written out in double precision:
    //   d ← g + wd·p;  b ← d on the first step, then b ← μ·b + d;  p ← p − lr·b   (μ = 0: p ← p − lr·d)
    [Theory]
    [InlineData(0.9, 0.01)]
    [InlineData(0.0, 0.01)]
    [InlineData(0.5, 0.0)]
    public void Three_steps_match_the_sgd_formulas(double momentum, double wd)
    {
        double[] start = [0.5, -1.0, 2.0];
        double[][] grads = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.3], [1.5, 0.0, -0.25]];
        double[] lrs = [0.1, 0.05, 0.2];
        using var p = Param([.. start.Select(v => (float)v)]);
        using var sgd = new Sgd(ParameterGroups.Single([("p", p)], 1.0), momentum, wd);

        var expected = start.ToArray();
        var buffer = new double[3];
        for (int t = 1; t <= 3; t++)
        {
            SetGrad(p, grads[t - 1]);
            sgd.SetLearningRateScale(lrs[t - 1]); // base lr 1, so the scale is the learning rate
            sgd.Step();
            sgd.ZeroGrad();
            for (int i = 0; i < 3; i++)
            {
                double d = (float)grads[t - 1][i] + wd * expected[i];
                buffer[i] = t == 1 ? d : momentum * buffer[i] + d;
                expected[i] -= lrs[t - 1] * (momentum != 0 ? buffer[i] : d);
            }
            AdamWTests.AssertClose(expected, Values(p), 1e-6, $"p after step {t}");
        }

        var state = sgd.StateOf("p")!;
        Assert.Equal(3, state.Step);
        if (momentum != 0) AdamWTests.AssertClose(buffer, Values(state.Buffers[Sgd.MomentumBuffer]), 1e-6, "momentum_buffer");
        else Assert.Empty(state.Buffers);
    }

    [Fact]
    public void Momentum_buffer_starts_as_a_copy_not_an_alias_of_the_gradient()
    {
        using var p = Param(1f, 1f);
        using var sgd = new Sgd(ParameterGroups.Single([("p", p)], 0.1), momentum: 0.9, weightDecay: 0);
        SetGrad(p, 2.0, -4.0);
        sgd.Step();
        using (no_grad()) p.grad!.mul_(100); // a later in-place change of the gradient must not reach the buffer
        Assert.Equal([2.0, -4.0], Values(sgd.StateOf("p")!.Buffers[Sgd.MomentumBuffer]));
        AdamWTests.AssertClose([0.8, 1.4], Values(p), 1e-7, "p");
    }

    [Fact]
    public void Steps_leak_no_tensors()
    {
        using var p = Param(new float[12]);
        using var sgd = new Sgd(ParameterGroups.Single([("p", p)], 0.1), momentum: 0.9);
        void OneStep()
        {
            using (NewDisposeScope()) SetGrad(p, ones(12));
            sgd.Step(); // outside a scope: leaked temporaries would be counted
            sgd.ZeroGrad();
        }
        OneStep();
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) OneStep();
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
