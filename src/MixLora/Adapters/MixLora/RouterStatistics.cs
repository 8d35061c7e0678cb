using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// Accumulates, per MoE layer and expert, how often the router assigns (token, slot) pairs to each expert and the mean
/// router probability, over non-padding tokens and across forwards (our analogue of the reference's "router profile",
/// spec §11.3, without its quirks: true means instead of ½-averaging, no fixed /32 divisor, unselected dynamic slots
/// and switch overflow tokens are not counted). Thread-safe.
/// </summary>
public sealed class RouterStatistics
{
    private readonly object _lock = new();
    private readonly double[][] _assignments;
    private readonly double[][] _probabilitySums;
    private readonly long[] _tokens;

    public RouterStatistics(int numLayers, int numExperts)
    {
        if (numLayers <= 0 || numExperts <= 0)
            throw new ArgumentOutOfRangeException(nameof(numLayers), $"need at least one layer and expert, got {numLayers} x {numExperts}");
        NumLayers = numLayers;
        NumExperts = numExperts;
        _assignments = NewTable(numLayers, numExperts);
        _probabilitySums = NewTable(numLayers, numExperts);
        _tokens = new long[numLayers];
    }

    public int NumLayers { get; }
    public int NumExperts { get; }

    /// <summary>
    /// Adds one forward of layer <paramref name="layerIndex"/>: router probabilities [N, E], assignment counts [N, E]
    /// (how many slots of token n chose expert e) and an optional token mask [N] (0 = padding, skipped).
    /// </summary>
    public void Record(int layerIndex, Tensor probabilities, Tensor assignments, Tensor? tokenMask)
    {
        if (layerIndex < 0 || layerIndex >= NumLayers)
            throw new ArgumentOutOfRangeException(nameof(layerIndex), $"layer {layerIndex} outside [0, {NumLayers})");
        if (probabilities.dim() != 2 || probabilities.shape[1] != NumExperts || !assignments.shape.SequenceEqual(probabilities.shape))
            throw new ArgumentException(
                $"expected probabilities and assignments [N, {NumExperts}], got [{string.Join(", ", probabilities.shape)}] and [{string.Join(", ", assignments.shape)}]");
        using var scope = NewDisposeScope();
        var weight = tokenMask is null
            ? ones(probabilities.shape[0], 1, dtype: ScalarType.Float64)
            : tokenMask.reshape(-1, 1).to(ScalarType.Float64).cpu();                 // [N, 1]
        if (weight.shape[0] != probabilities.shape[0])
            throw new ArgumentException($"token mask has {weight.shape[0]} entries for {probabilities.shape[0]} tokens");
        var assigned = (assignments.to(ScalarType.Float64).cpu() * weight).sum([0L]).data<double>().ToArray(); // [E]
        var probs = (probabilities.to(ScalarType.Float64).cpu() * weight).sum([0L]).data<double>().ToArray(); // [E]
        long tokens = (long)Math.Round(weight.sum().item<double>());
        lock (_lock)
        {
            for (int e = 0; e < NumExperts; e++)
            {
                _assignments[layerIndex][e] += assigned[e];
                _probabilitySums[layerIndex][e] += probs[e];
            }
            _tokens[layerIndex] += tokens;
        }
    }

    /// <summary>Forgets everything recorded so far.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            foreach (var row in _assignments) Array.Clear(row);
            foreach (var row in _probabilitySums) Array.Clear(row);
            Array.Clear(_tokens);
        }
    }

    /// <summary>A copy of the current per-layer, per-expert measures.</summary>
    public RouterStatisticsSnapshot Snapshot()
    {
        lock (_lock)
        {
            var share = NewTable(NumLayers, NumExperts);
            var meanProbability = NewTable(NumLayers, NumExperts);
            var counts = new long[NumLayers][];
            for (int l = 0; l < NumLayers; l++)
            {
                double total = _assignments[l].Sum();
                counts[l] = new long[NumExperts];
                for (int e = 0; e < NumExperts; e++)
                {
                    counts[l][e] = (long)Math.Round(_assignments[l][e]);
                    share[l][e] = total > 0 ? _assignments[l][e] / total : 0;
                    meanProbability[l][e] = _tokens[l] > 0 ? _probabilitySums[l][e] / _tokens[l] : 0;
                }
            }
            return new RouterStatisticsSnapshot(share, meanProbability, counts, (long[])_tokens.Clone());
        }
    }

    private static double[][] NewTable(int rows, int columns) =>
        Enumerable.Range(0, rows).Select(_ => new double[columns]).ToArray();
}
