using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Generation;

/// <summary>Turns next-token logits into a token id (spec §9.2 order: penalty, temperature, top-k, top-p, sample).</summary>
public sealed class LogitsProcessor
{
    private readonly SamplingOptions _options;
    private readonly Generator _generator;

    public LogitsProcessor(SamplingOptions options)
    {
        _options = options;
        _generator = new Generator((ulong)(options.Seed ?? DateTime.UtcNow.Ticks));
    }

    /// <summary>
    /// logits: [V] (fp32); history: ids already in the sequence (prompt included); generated: the ids generated so far
    /// (what the frequency and presence penalties count; null = none).
    /// </summary>
    /// <exception cref="MixLoraException">The logits hold NaN or +∞ (or nothing but −∞): no token can be chosen from them.</exception>
    public int Next(Tensor logits, IReadOnlyCollection<int> history, IReadOnlyList<int>? generated = null)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to(ScalarType.Float32).clone();
        // NaN would make argmax meaningless and multinomial abort the process; −∞ alone masks a token, which is fine.
        if (Unusable(scores).item<bool>())
            throw NonFiniteScores(scores, history.Count);
        if (_options.RepetitionPenalty != 1.0 && history.Count > 0)
        {
            var seen = tensor(history.Distinct().Select(i => (long)i).ToArray(), device: scores.device);
            var picked = scores.index_select(0, seen);
            var penalised = where(picked.lt(0), picked * _options.RepetitionPenalty, picked / _options.RepetitionPenalty);
            scores.index_copy_(0, seen, penalised);
        }
        if (_options.PenalisesGenerated && generated is { Count: > 0 })
        {
            var counts = generated.GroupBy(id => id).ToList();
            var ids = tensor(counts.Select(g => (long)g.Key).ToArray(), device: scores.device);
            var penalty = tensor(counts.Select(g => (float)(_options.FrequencyPenalty * g.Count() + _options.PresencePenalty)).ToArray(), device: scores.device);
            scores.index_add_(0, ids, penalty, -1.0);                                       // [V] -= penalty at ids
        }
        if (_options.IsGreedy) return (int)scores.argmax().item<long>();

        scores = scores / _options.Temperature;
        if (_options.TopK > 0 && _options.TopK < scores.shape[0])
        {
            var kth = scores.topk(_options.TopK).values[-1];
            scores = scores.masked_fill(scores.lt(kth), float.NegativeInfinity);
        }
        if (_options.TopP < 1.0)
        {
            var (sorted, order) = scores.sort(descending: true);
            var cumulative = nn.functional.softmax(sorted, 0).cumsum(0);
            // Drop a token when the tokens ranked above it already reach top_p; the best token always stays.
            var drop = (cumulative - nn.functional.softmax(sorted, 0)).ge(_options.TopP);
            var dropInVocabOrder = zeros_like(drop).scatter(0, order, drop);
            scores = scores.masked_fill(dropInVocabOrder, float.NegativeInfinity);
        }
        var probabilities = nn.functional.softmax(scores, 0);
        return (int)multinomial(probabilities, 1, generator: _generator).item<long>();
    }

    /// <summary>
    /// Whether no token can be chosen from scores [.., V]: a NaN, a +∞, or nothing but −∞ (−∞ alone only masks a
    /// token). [V] -> scalar, [B, V] -> [B].
    /// </summary>
    public static Tensor Unusable(Tensor scores) =>
        scores.isnan().any(-1).logical_or(scores.isposinf().any(-1)).logical_or(scores.isneginf().all(-1));

    /// <summary>Whether this sampler's choice is the plain argmax of the logits (greedy, no penalty of any kind).</summary>
    public bool IsPlainArgmax => _options.IsGreedy && _options.RepetitionPenalty == 1.0 && !_options.PenalisesGenerated;

    /// <summary>The error for scores [V] that hold NaN or +∞ (or only −∞), after <paramref name="tokens"/> tokens.</summary>
    public static MixLoraException NonFiniteScores(Tensor scores, int tokens) =>
        new($"the model produced non-finite next-token scores ({Describe(scores)}) after {tokens} tokens; " +
            "the weights or the adapter hold NaN/Inf or have overflowed, so no token can be chosen");

    private static string Describe(Tensor scores)
    {
        long nan = scores.isnan().sum().item<long>(), inf = scores.isposinf().sum().item<long>();
        return nan + inf > 0 ? $"{nan} NaN, {inf} +Inf of {scores.shape[0]}" : "every score is -Inf";
    }
}
