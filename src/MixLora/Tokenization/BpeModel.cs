using System.Collections.Concurrent;
using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// The "BPE" model of a tokenizer.json: turns one pre-tokenized piece into vocabulary ids. Each code point starts
/// as its own token; one missing from the vocabulary becomes the "&lt;0xNN&gt;" tokens of its UTF-8 bytes
/// (byte_fallback), else the unk token (consecutive ones fused into one with fuse_unk), else nothing. Merges then
/// apply lowest rank first (leftmost first among equal ranks). SentencePiece-style pieces are first cut into words
/// where that cannot change the result (<see cref="WordCuts"/>); results are cached per short word.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCacheEntries = 100_000;

    // tokenizers caches words shorter than 256 bytes; longer pieces (text without spaces) would fill the cache.
    private const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, int> _codePointIds = new();
    private readonly Dictionary<long, (int Rank, int MergedId)> _merges;
    private readonly bool _ignoreMerges;
    private readonly int[]? _byteIds;       // byte value -> id of "<0xNN>" (-1 when missing); null without byte_fallback
    private readonly string? _unkToken;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly string _filePath;
    private readonly WordCuts? _wordCuts;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    /// <param name="json">The tokenizer.json's model and vocabulary.</param>
    /// <param name="cutIntoWords">False: merge every piece whole, never using <see cref="WordCuts"/> (to check them).</param>
    public BpeModel(TokenizerJson json, bool cutIntoWords = true)
    {
        _vocab = json.Vocab;
        _ignoreMerges = json.IgnoreMerges;
        _filePath = json.FilePath;
        foreach (var (token, id) in _vocab)
        {
            if (token.Length == 1 || (token.Length == 2 && char.IsSurrogatePair(token[0], token[1])))
                _codePointIds[char.ConvertToUtf32(token, 0)] = id;
        }
        if (json.ByteFallback)
        {
            // tokenizers spells byte tokens with upper-case hex digits.
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++) _byteIds[b] = _vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
        _unkToken = json.UnkToken;
        _unkId = _unkToken != null && _vocab.TryGetValue(_unkToken, out int unk) ? unk : null;
        _fuseUnk = json.FuseUnk;
        // ignore_merges looks the whole piece up in the vocabulary, so a piece must not be cut into words then.
        _wordCuts = _ignoreMerges || !cutIntoWords ? null : WordCuts.For(_vocab.Keys, _codePointIds);
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();

        // Three vocabulary lookups per merge, bound by memory latency for large vocabularies: they only read, so
        // they run in parallel; the table is then filled in rank order.
        var merges = json.Merges;
        var resolved = new (int Left, int Right, int Merged)[merges.Count];
        Parallel.For(0, Environment.ProcessorCount, part =>
        {
            for (int rank = part; rank < merges.Count; rank += Environment.ProcessorCount)
            {
                var (left, right) = merges[rank];
                resolved[rank] = (IdOrMissing(left), IdOrMissing(right), IdOrMissing(left + right));
            }
        });
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (leftId, rightId, mergedId) = resolved[rank];
            if (leftId < 0 || rightId < 0 || mergedId < 0) throw MissingMergeToken(merges, rank);
            // A repeated rule keeps its last rank, as a map built in file order does.
            _merges[Key(leftId, rightId)] = (rank, mergedId);
        }
    }

    public int? TryGetId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public void Encode(string piece, List<int> output)
    {
        for (int start = 0; start < piece.Length;)
        {
            int end = _wordCuts?.NextCut(piece, start) ?? piece.Length;
            EncodeWord(piece.AsSpan(start, end - start), output);
            start = end;
        }
    }

    private void EncodeWord(ReadOnlySpan<char> span, List<int> output)
    {
        if (_cacheBySpan.TryGetValue(span, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        string word = span.ToString();
        int[] ids = _ignoreMerges && _vocab.TryGetValue(word, out int whole) ? [whole] : Merge(InitialIds(word));
        if (word.Length <= MaxCachedWordLength)
        {
            if (_cache.Count >= MaxCacheEntries) _cache.Clear();
            _cache.TryAdd(word, ids);
        }
        output.AddRange(ids);
    }

    /// <summary>The ids of the piece's code points before any merge, with byte fallback and unk applied.</summary>
    private List<int> InitialIds(string piece)
    {
        var ids = new List<int>(piece.Length);
        bool unkPending = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < piece.Length; i++)
        {
            // Lone surrogates were replaced by U+FFFD before normalization; treat any left the same way.
            var rune = Rune.TryGetRuneAt(piece, i, out var r) ? r : Rune.ReplacementChar;
            if (rune.Utf16SequenceLength == 2) i++;
            if (_codePointIds.TryGetValue(rune.Value, out int id))
            {
                if (unkPending) ids.Add(_unkId!.Value);
                unkPending = false;
                ids.Add(id);
                continue;
            }
            // As in tokenizers, a pending unk is not written before byte tokens, only before the next known
            // character or at the end (it can only matter when some "<0xNN>" tokens are missing).
            if (_byteIds != null && TryAddBytes(utf8[..rune.EncodeToUtf8(utf8)], ids)) continue;
            if (_unkToken == null) continue;   // no unk token: the character is dropped
            if (_unkId is not int unk)
                throw new MixLoraException($"{_filePath}: '{rune}' is not in the vocabulary and 'model.unk_token' = \"{_unkToken}\" is not in 'model.vocab' either");
            if (unkPending && !_fuseUnk) ids.Add(unk);
            unkPending = true;
        }
        if (unkPending) ids.Add(_unkId!.Value);
        return ids;
    }

    /// <summary>Adds the byte tokens of one character, only if all of them exist.</summary>
    private bool TryAddBytes(ReadOnlySpan<byte> bytes, List<int> ids)
    {
        foreach (byte b in bytes)
        {
            if (_byteIds![b] < 0) return false;
        }
        foreach (byte b in bytes) ids.Add(_byteIds![b]);
        return true;
    }

    private int[] Merge(List<int> initial)
    {
        // Symbols as a doubly linked list over arrays.
        int count = initial.Count;
        var ids = initial.ToArray();
        if (count <= 1) return ids;

        var prev = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        for (int i = 0; i < count; i++) { prev[i] = i - 1; next[i] = i + 1 < count ? i + 1 : -1; alive[i] = true; }

        // Priority = (rank, position): lowest rank first, then leftmost. An entry remembers its pair, so a stale one
        // (a side merged away or grown since) is recognised without another dictionary lookup.
        var queue = new PriorityQueue<(int Left, long Pair, int MergedId), long>();
        void TryQueue(int left)
        {
            if (left < 0 || next[left] < 0) return;
            long pair = Key(ids[left], ids[next[left]]);
            if (_merges.TryGetValue(pair, out var merge))
                queue.Enqueue((left, pair, merge.MergedId), ((long)merge.Rank << 32) | (uint)left);
        }
        for (int i = 0; i + 1 < count; i++) TryQueue(i);

        while (queue.TryDequeue(out var entry, out _))
        {
            int left = entry.Left, right = next[left];
            if (!alive[left] || right < 0 || Key(ids[left], ids[right]) != entry.Pair) continue;
            ids[left] = entry.MergedId;
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

    private int IdOrMissing(string token) => _vocab.TryGetValue(token, out int id) ? id : -1;

    private InvalidFileException MissingMergeToken(IReadOnlyList<(string Left, string Right)> merges, int rank)
    {
        var (left, right) = merges[rank];
        string token = IdOrMissing(left) < 0 ? left : IdOrMissing(right) < 0 ? right : left + right;
        return new InvalidFileException(_filePath, $"model.merges[{rank}] uses '{token}', which is not in model.vocab");
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long's own hash is left ^ right, which for ids below 2^18 puts Gemma-3's 514,906 merges on at most 262,144
    /// hash values, some far more crowded than others; a multiplicative hash spreads them (Gemma-3 measured: about
    /// 0.8 s less to load, encoding 3x faster).
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }
}
