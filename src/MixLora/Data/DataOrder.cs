namespace MixLora.Data;

/// <summary>
/// The order in which an adapter's examples are visited (spec §6.2): longest first with <c>group_by_length</c>, else
/// one seeded shuffle. The order is computed once and used for every epoch (no per-epoch reshuffle). Both are pure
/// functions of their arguments, so an exact resume recomputes the same permutation from the same seed.
/// </summary>
public static class DataOrder
{
    /// <summary>Indices of the examples in visiting order.</summary>
    public static int[] Create(IReadOnlyList<int> lengths, bool groupByLength, int seed) =>
        groupByLength ? ByLengthDescending(lengths) : Shuffled(lengths.Count, seed);

    /// <summary>Indices sorted by length, longest first; equal lengths keep their original order (stable).</summary>
    public static int[] ByLengthDescending(IReadOnlyList<int> lengths) =>
        Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i]).ToArray(); // OrderBy is stable

    /// <summary>A Fisher–Yates permutation of 0…count-1 drawn from <c>new Random(seed)</c> (deterministic per seed).</summary>
    public static int[] Shuffled(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = Enumerable.Range(0, count).ToArray();
        var random = new Random(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
