using MixLora.Benchmarks.TrainStep;

namespace MixLora.Tests.Benchmarks;

/// <summary>
/// The train-step benchmark counts FLOPs exactly as the PyTorch peer does (../shared/peer/peer_bench.py, step_flops):
/// the values below are the model and executed GFLOP the peer wrote into bench/results/peer-{full,quick}.json, so
/// MFU and the ours/peer comparison rest on the same accounting.
/// </summary>
public class StepFlopsTests
{
    [Theory]
    [InlineData("full", "base_fwd", 260.38239232, 260.38239232)]
    [InlineData("full", "lora", 597.10111744, 597.10111744)]
    [InlineData("full", "mixlora_vanilla", 549.78936832, 833.257209856)]
    [InlineData("full", "mixlora_shared", 549.78936832, 644.278648832)]
    [InlineData("full", "mixlora_fused", 549.78936832, 549.78936832)]
    [InlineData("quick", "base_fwd", 14.696841216, 14.696841216)]
    [InlineData("quick", "lora", 33.923530752, 33.923530752)]
    [InlineData("quick", "mixlora_vanilla", 30.89104896, 39.749419008)]
    [InlineData("quick", "mixlora_shared", 30.89104896, 33.843838976)]
    [InlineData("quick", "mixlora_fused", 30.89104896, 30.89104896)]
    public void MatchThePeersAccounting(string shapeName, string variant, double modelGflop, double executedGflop)
    {
        var shape = shapeName == "full" ? TrainStepShape.Full : TrainStepShape.Quick;
        var flops = StepFlops.Of(shape, variant, expertsPerToken: 2);
        Assert.Equal(modelGflop, flops.Model / 1e9, 1e-6);
        Assert.Equal(executedGflop, flops.Executed / 1e9, 1e-6);
    }

    [Fact]
    public void SwitchAndDynamicCountTheMeasuredExpertRows()
    {
        // Top-1 switch routing keeps at most one expert per token: its expert LoRAs cost half of top-2's.
        var shape = TrainStepShape.Full;
        double fused = StepFlops.Of(shape, "mixlora_fused", 2).Model;
        double one = StepFlops.Of(shape, "mixlora_switch", 1).Model;
        double three = StepFlops.Of(shape, "mixlora_dynamic", 3).Model;
        Assert.True(one < fused && fused < three, $"{one} < {fused} < {three}");
        // Expert LoRA cost is linear in rows: 6·r·(in+out) per row for each of gate, up, down in every layer.
        double perRow = 8 * 6.0 * 16 * ((1024 + 2816) * 3) * shape.Tokens;
        Assert.Equal(perRow, fused - one, 1e-3);
        Assert.Equal(perRow, three - fused, 1e-3);
    }
}
