namespace MixLora.Training;

/// <summary>Chooses which adapters share the next fused step (spec §6.2, <c>train_strategy</c>).</summary>
public static class Dispatcher
{
    /// <summary>
    /// "none": the first <paramref name="limit"/> running tasks. "optim": sort by the length of each task's next
    /// micro-batch (descending) and take the window of <paramref name="limit"/> neighbours whose lengths differ least from
    /// the window's first, so that little padding is wasted.
    /// </summary>
    public static IReadOnlyList<AdapterTask> Choose(IReadOnlyList<AdapterTask> running, int limit, string strategy)
    {
        if (running.Count <= limit) return running;
        if (strategy == "none") return running.Take(limit).ToList();
        var sorted = running.Select(t => (Task: t, Length: t.NextLength)).OrderByDescending(x => x.Length).ToList();
        int best = 0;
        long bestCost = long.MaxValue;
        for (int start = 0; start + limit <= sorted.Count; start++)
        {
            long cost = 0;
            for (int j = start + 1; j < start + limit; j++) cost += Math.Abs(sorted[j].Length - sorted[start].Length);
            if (cost < bestCost) (best, bestCost) = (start, cost);
        }
        return sorted.Skip(best).Take(limit).Select(x => x.Task).ToList();
    }
}
