using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// SentencePiece's BPE segmentation of a normalized string: start from characters (user-defined symbols stay
/// whole and never merge), repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece
/// (ties go to the leftmost pair), split merged UNUSED pieces back into their parts, and map what has no id to
/// UTF-8 byte pieces (byte fallback) or to the unknown id.
/// </summary>
internal sealed class SentencePieceBpeSegmenter
{
    private readonly SentencePieceModelFile _model;
    private readonly Dictionary<string, int> _mergeable;   // NORMAL, USER_DEFINED and UNUSED pieces
    private readonly Dictionary<string, int> _reserved;    // CONTROL, UNKNOWN and BYTE pieces
    private readonly LongestMatchTable _userDefined;
    private readonly int[] _byteIds;                       // byte value -> id of "<0xXX>", or -1
    private readonly int _unkId;

    public SentencePieceBpeSegmenter(SentencePieceModelFile model, LongestMatchTable userDefined)
    {
        _model = model;
        _userDefined = userDefined;
        _mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        _reserved = new Dictionary<string, int>(StringComparer.Ordinal);
        _byteIds = Enumerable.Repeat(-1, 256).ToArray();
        _unkId = -1;
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var entry = model.Pieces[id];
            bool mergeable = entry.Type is SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused;
            if (!(mergeable ? _mergeable : _reserved).TryAdd(entry.Piece, id))
                throw new InvalidFileException(model.FilePath, $"piece '{entry.Piece}' (id {id}) is defined twice");
            if (entry.Type == SentencePieceType.Unknown)
            {
                if (_unkId >= 0) throw new InvalidFileException(model.FilePath, $"more than one unknown piece (ids {_unkId} and {id})");
                _unkId = id;
            }
            if (entry.Type == SentencePieceType.Byte)
            {
                int value = ParseBytePiece(entry.Piece);
                if (value < 0) throw new InvalidFileException(model.FilePath, $"byte piece {id} is '{entry.Piece}', expected '<0xXX>'");
                _byteIds[value] = id;
            }
        }
        if (_unkId < 0) throw new InvalidFileException(model.FilePath, "the model defines no unknown piece (type UNKNOWN)");
        if (model.ByteFallback && _byteIds.Any(id => id < 0))
            throw new InvalidFileException(model.FilePath, "byte_fallback is set but not all 256 '<0xXX>' byte pieces are present");
    }

    public int UnknownId => _unkId;

    /// <summary>Id of a piece by its text (reserved pieces first, as SentencePiece does), or null.</summary>
    public int? PieceToId(string piece) =>
        _reserved.TryGetValue(piece, out int id) || _mergeable.TryGetValue(piece, out id) ? id : null;

    /// <summary>Parses "&lt;0xXX&gt;" into the byte value, or -1.</summary>
    public static int ParseBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && int.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out int value)
            ? value : -1;

    public void Segment(string normalized, List<int> output)
    {
        if (normalized.Length == 0) return;
        var symbols = SplitIntoSymbols(normalized);
        var unusedParts = new Dictionary<string, (string Left, string Right)>(StringComparer.Ordinal);
        var agenda = new PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)>(PairOrder.Instance);

        void TryAddPair(int left, int right)
        {
            if (left < 0 || right < 0 || symbols[left].Frozen || symbols[right].Frozen) return;
            string merged = symbols[left].Text + symbols[right].Text;
            if (!_mergeable.TryGetValue(merged, out int id)) return;
            agenda.Enqueue((left, right, merged.Length), (_model.Pieces[id].Score, left));
            if (_model.Pieces[id].Type == SentencePieceType.Unused) unusedParts[merged] = (symbols[left].Text, symbols[right].Text);
        }

        for (int i = 1; i < symbols.Length; i++) TryAddPair(i - 1, i);
        while (agenda.TryDequeue(out var pair, out _))
        {
            ref var left = ref symbols[pair.Left];
            ref var right = ref symbols[pair.Right];
            // Stale entry: one side was merged away or has grown since the pair was queued.
            if (left.Text.Length == 0 || right.Text.Length == 0 || left.Text.Length + right.Text.Length != pair.Length) continue;
            left.Text += right.Text;
            left.Next = right.Next;
            if (right.Next >= 0) symbols[right.Next].Prev = pair.Left;
            right.Text = "";
            TryAddPair(left.Prev, pair.Left);
            TryAddPair(pair.Left, left.Next);
        }

        for (int i = 0; i >= 0; i = symbols[i].Next) Emit(symbols[i].Text, unusedParts, output);
    }

    private Symbol[] SplitIntoSymbols(string text)
    {
        var symbols = new List<Symbol>(text.Length);
        for (int position = 0; position < text.Length;)
        {
            var userSymbol = _userDefined.Match(text, position);
            int length = userSymbol?.Length ?? (char.IsHighSurrogate(text[position]) && position + 1 < text.Length ? 2 : 1);
            symbols.Add(new Symbol { Text = text.Substring(position, length), Frozen = userSymbol != null, Prev = symbols.Count - 1 });
            position += length;
        }
        var array = symbols.ToArray();
        for (int i = 0; i < array.Length; i++) array[i].Next = i + 1 < array.Length ? i + 1 : -1;
        return array;
    }

    private void Emit(string piece, Dictionary<string, (string Left, string Right)> unusedParts, List<int> output)
    {
        int? id = PieceToId(piece);
        if (id is int known && _model.Pieces[known].Type == SentencePieceType.Unused && unusedParts.TryGetValue(piece, out var parts))
        {
            Emit(parts.Left, unusedParts, output);
            Emit(parts.Right, unusedParts, output);
            return;
        }
        if (id is int found && found != _unkId)
        {
            output.Add(found);
            return;
        }
        if (!_model.ByteFallback)
        {
            output.Add(_unkId);
            return;
        }
        foreach (byte b in Encoding.UTF8.GetBytes(piece)) output.Add(_byteIds[b]);
    }

    private struct Symbol
    {
        public string Text;
        public bool Frozen;
        public int Prev, Next;
    }

    /// <summary>Higher score first; equal scores go to the leftmost pair.</summary>
    private sealed class PairOrder : IComparer<(float Score, int Left)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            int byScore = b.Score.CompareTo(a.Score);
            return byScore != 0 ? byScore : a.Left.CompareTo(b.Left);
        }
    }
}
