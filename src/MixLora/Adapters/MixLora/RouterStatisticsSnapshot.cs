namespace MixLora.Adapters;

/// <summary>Router statistics at one moment; every table is indexed [layer][expert].</summary>
/// <param name="AssignmentShare">Share of the layer's (token, slot) assignments that went to the expert (rows sum to 1 once anything was recorded).</param>
/// <param name="MeanProbability">Mean router probability of the expert over the layer's non-padding tokens.</param>
/// <param name="AssignmentCounts">Number of (token, slot) assignments of the expert.</param>
/// <param name="Tokens">Per layer: non-padding tokens recorded.</param>
public sealed record RouterStatisticsSnapshot(
    double[][] AssignmentShare, double[][] MeanProbability, long[][] AssignmentCounts, long[] Tokens);
