namespace MixLora.Data;

/// <summary>
/// The order in which an adapter's examples are visited (spec §6.2): longest first with <c>group_by_length</c>, else a
/// seeded shuffle, by default a new one every epoch (the reference shuffles once and repeats that order, a QUIRK kept
/// behind <c>shuffle_each_epoch: false</c>). Pure functions of their arguments, so an exact resume recomputes the same
/// permutation of any epoch.
/// </summary>
public static class DataOrder
{
    /// <summary>Indices of the examples in visiting order (the first epoch's order).</summary>
    public static int[] Create(IReadOnlyList<int> lengths, bool groupByLength, int seed) =>
        groupByLength ? ByLengthDescending(lengths) : Shuffled(lengths.Count, seed);

    /// <summary>
    /// The order of epoch <paramref name="epoch"/> (1-based). Epoch 1 is <see cref="Create"/>'s order; later epochs
    /// draw their own shuffle when <paramref name="shuffleEachEpoch"/> (the by-length order never changes).
    /// </summary>
    public static int[] ForEpoch(IReadOnlyList<int> lengths, bool groupByLength, bool shuffleEachEpoch, int seed, int epoch) =>
        groupByLength || !shuffleEachEpoch || epoch <= 1
            ? Create(lengths, groupByLength, seed)
            : Shuffled(lengths.Count, EpochSeed(seed, epoch));

    // A distinct stream per epoch; the odd multiplier spreads consecutive epochs over the seed space.
    private static int EpochSeed(int seed, int epoch) => (int)((uint)seed ^ (uint)(epoch - 1) * 0x9E3779B9u) & int.MaxValue;

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
