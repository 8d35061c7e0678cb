using System.Collections.Concurrent;

namespace MixLora.Tokenization;

/// <summary>
/// The "BPE" model of a tokenizer.json: turns one pre-tokenized piece (already in the byte-level alphabet) into
/// vocabulary ids by applying merges lowest rank first (leftmost first among equal ranks). Results are cached
/// per piece.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCacheEntries = 100_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<char, int> _charIds = new();
    private readonly Dictionary<long, (int Rank, int MergedId)> _merges;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <param name="vocab">Token to id.</param>
    /// <param name="merges">Merge rules in rank order, as pairs of token texts.</param>
    /// <param name="ignoreMerges">Emit a piece that is itself a vocabulary entry directly (Llama-3's setting).</param>
    /// <param name="filePath">The tokenizer.json, named in errors.</param>
    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges, string filePath)
    {
        _vocab = vocab;
        _ignoreMerges = ignoreMerges;
        foreach (var (token, id) in vocab)
        {
            if (token.Length == 1) _charIds[token[0]] = id;
        }
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int leftId = Lookup(left, rank, filePath), rightId = Lookup(right, rank, filePath);
            int mergedId = Lookup(left + right, rank, filePath);
            // A repeated rule keeps its last rank, as a map built in file order does.
            _merges[Key(leftId, rightId)] = (rank, mergedId);
        }
    }

    public int? TryGetId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public void Encode(string piece, List<int> output)
    {
        if (_cache.TryGetValue(piece, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = _ignoreMerges && _vocab.TryGetValue(piece, out int whole) ? [whole] : Merge(piece);
        if (_cache.Count >= MaxCacheEntries) _cache.Clear();
        _cache.TryAdd(piece, ids);
        output.AddRange(ids);
    }

    private int[] Merge(string piece)
    {
        // Symbols as a doubly linked list over arrays; a character missing from the vocabulary is dropped
        // (there is no unk token in byte-level vocabularies, which hold all 256 byte characters).
        var ids = new int[piece.Length];
        int count = 0;
        foreach (char c in piece)
        {
            if (_charIds.TryGetValue(c, out int id)) ids[count++] = id;
        }
        if (count <= 1) return ids[..count];

        var prev = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        for (int i = 0; i < count; i++) { prev[i] = i - 1; next[i] = i + 1 < count ? i + 1 : -1; alive[i] = true; }

        // Priority = (rank, position): lowest rank first, then leftmost.
        var queue = new PriorityQueue<int, long>();
        void TryQueue(int left)
        {
            if (left < 0 || next[left] < 0) return;
            if (_merges.TryGetValue(Key(ids[left], ids[next[left]]), out var merge))
                queue.Enqueue(left, ((long)merge.Rank << 32) | (uint)left);
        }
        for (int i = 0; i + 1 < count; i++) TryQueue(i);

        while (queue.TryDequeue(out int left, out long priority))
        {
            int right = next[left];
            // Skip entries made stale by earlier merges: the pair at this position must still be the queued rule.
            if (!alive[left] || right < 0) continue;
            if (!_merges.TryGetValue(Key(ids[left], ids[right]), out var merge) || merge.Rank != (int)(priority >> 32)) continue;
            ids[left] = merge.MergedId;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            TryQueue(prev[left]);
            TryQueue(left);
        }

        var result = new List<int>(count);
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    private int Lookup(string token, int rank, string filePath) =>
        _vocab.TryGetValue(token, out int id)
            ? id
            : throw new InvalidFileException(filePath, $"model.merges[{rank}] uses '{token}', which is not in model.vocab");

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
