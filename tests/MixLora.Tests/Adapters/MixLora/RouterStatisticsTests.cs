using MixLora.Adapters;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>Router statistics: hand-computed counts, padding exclusion, accumulation and reset.</summary>
public class RouterStatisticsTests
{
    [Fact]
    public void RecordCountsAssignmentsAndMeanProbabilitiesOfRealTokens()
    {
        using var scope = NewDisposeScope();
        var stats = new RouterStatistics(numLayers: 2, numExperts: 3);
        var probs = tensor(new float[] { 0.6f, 0.3f, 0.1f, 0.2f, 0.2f, 0.6f, 0.1f, 0.1f, 0.8f }).reshape(3, 3);
        var assignments = tensor(new float[] { 1, 1, 0, 0, 1, 1, 1, 0, 1 }).reshape(3, 3);
        stats.Record(1, probs, assignments, tensor(new long[] { 1, 1, 0 }));         // third token is padding
        stats.Record(1, probs, assignments, null);                                   // all three count

        var snapshot = stats.Snapshot();
        Assert.Equal([0L, 0, 0], snapshot.AssignmentCounts[0]);
        Assert.Equal([0.0, 0, 0], snapshot.AssignmentShare[0]);
        // Expert counts: first record (tokens 0, 1) 1, 2, 1; second (tokens 0–2) 2, 2, 2.
        Assert.Equal([3L, 4, 3], snapshot.AssignmentCounts[1]);
        Assert.Equal([0.3, 0.4, 0.3], snapshot.AssignmentShare[1].Select(v => Math.Round(v, 9)));
        Assert.Equal([0L, 5], snapshot.Tokens);
        // Probability sums: (0.6 + 0.2) + (0.6 + 0.2 + 0.1) = 1.7 over 5 tokens, etc.
        Assert.Equal([0.34, 0.22, 0.44], snapshot.MeanProbability[1].Select(v => Math.Round(v, 6)));

        stats.Reset();
        Assert.Equal([0L, 0], stats.Snapshot().Tokens);
        Assert.Equal([0L, 0, 0], stats.Snapshot().AssignmentCounts[1]);
    }

    [Fact]
    public void RecordRejectsBadShapesAndLayers()
    {
        using var scope = NewDisposeScope();
        var stats = new RouterStatistics(1, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => stats.Record(1, zeros(2, 3), zeros(2, 3), null));
        Assert.Throws<ArgumentException>(() => stats.Record(0, zeros(2, 4), zeros(2, 4), null));
        Assert.Throws<ArgumentException>(() => stats.Record(0, zeros(2, 3), zeros(2, 3), ones(3)));
    }

    [Theory]
    [InlineData(RoutingStrategy.TopK)]
    [InlineData(RoutingStrategy.Dynamic)]
    [InlineData(RoutingStrategy.Switch)]
    public void BlockRecordsItsRoutingWithoutPadding(RoutingStrategy strategy)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(31);
        var ffn = MoeFixtures.RandomFfn(g);
        var settings = new MoeSettings { Strategy = strategy, NumExperts = 4, ExpertCapacity = 2 };
        var block = new MixLoraFeedForward(2, MoeFixtures.RandomRouter(4, g), MoeFixtures.Experts(ffn, 4, g), settings, "silu");
        var stats = new RouterStatistics(3, 4);
        block.Statistics = stats;
        var hidden = randn(new long[] { 2, 6, MoeFixtures.Hidden }, generator: g);
        var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1 }).reshape(2, 6);
        block.Forward(hidden, ffn, training: false, mask);
        block.Forward(hidden, ffn, training: false, mask);

        using var decision = block.Route(hidden);
        var real = mask.reshape(-1, 1).to(ScalarType.Float32);
        var expectedCounts = (decision.Selected.to(ScalarType.Float32) * real).sum([0L]) * 2;
        var snapshot = stats.Snapshot();
        Assert.Equal(expectedCounts.to(ScalarType.Int64).data<long>().ToArray(), snapshot.AssignmentCounts[2]);
        Assert.Equal(20L, snapshot.Tokens[2]);
        Assert.Equal(0L, snapshot.Tokens[0]);
        var expectedMean = (decision.Probabilities * real).sum([0L]) / 10;
        TensorAssert.Close(expectedMean.to(ScalarType.Float64), tensor(snapshot.MeanProbability[2]), 1e-6, "mean probability");
        Assert.Equal(1.0, snapshot.AssignmentShare[2].Sum(), 9);
        if (strategy == RoutingStrategy.TopK) Assert.Equal(2 * 20L, snapshot.AssignmentCounts[2].Sum());
    }
}
