namespace MixLora.Tokenization;

/// <summary>
/// Where a SentencePiece-style BPE piece can be cut before a '▁' without changing its ids. Such files often make a
/// whole line one piece (Gemma-3's Split never fires), which would leave nothing for the word cache to reuse.
/// </summary>
/// <remarks>
/// A merge joins two adjacent symbols into a vocabulary token that spells both. Across a position i holding '▁',
/// the left symbol ends with the token of character i-1 and the right one starts with "▁", so a join there would
/// need a token containing character i-1 followed by '▁'. Where no token does, no merge ever crosses i; merges on
/// each side then happen in the same relative order as in the whole piece, and unknown characters never fuse across
/// a known one, so encoding the words separately gives the same ids. Gemma-3 has one such token ("&gt;▁&lt;/"),
/// so the piece is cut before every '▁' that follows a known character other than '&gt;' or '▁'.
/// </remarks>
internal sealed class WordCuts
{
    private const char SpaceSymbol = SentencePieceNormalizer.SpaceSymbol;

    private readonly Dictionary<int, int> _codePointIds;
    private readonly HashSet<int> _joinedToSpace = new();   // code points that some token has right before '▁'

    private WordCuts(IEnumerable<string> tokens, Dictionary<int, int> codePointIds)
    {
        _codePointIds = codePointIds;
        foreach (var token in tokens)
        {
            if (token.Length < 2) continue;
            for (int i = token.IndexOf(SpaceSymbol, 1); i > 0; i = i + 1 < token.Length ? token.IndexOf(SpaceSymbol, i + 1) : -1)
            {
                if (token[i - 1] != SpaceSymbol) _joinedToSpace.Add(CodePointBefore(token, i));
            }
        }
    }

    /// <summary>Cuts for a vocabulary that has '▁' as a token (SentencePiece-style), else null.</summary>
    /// <param name="codePointIds">Ids of the single-code-point tokens, by code point.</param>
    public static WordCuts? For(IEnumerable<string> tokens, Dictionary<int, int> codePointIds) =>
        codePointIds.ContainsKey(SpaceSymbol) ? new WordCuts(tokens, codePointIds) : null;

    /// <summary>The first safe cut after <paramref name="start"/>, or the piece's length.</summary>
    public int NextCut(string piece, int start)
    {
        for (int i = piece.IndexOf(SpaceSymbol, start + 1); i > 0; i = i + 1 < piece.Length ? piece.IndexOf(SpaceSymbol, i + 1) : -1)
        {
            if (piece[i - 1] == SpaceSymbol) continue;   // inside a run of '▁', which merges into one token
            int before = CodePointBefore(piece, i);
            if (_codePointIds.ContainsKey(before) && !_joinedToSpace.Contains(before)) return i;
        }
        return piece.Length;
    }

    private static int CodePointBefore(string text, int index) =>
        index >= 2 && char.IsSurrogatePair(text[index - 2], text[index - 1]) ? char.ConvertToUtf32(text[index - 2], text[index - 1]) : text[index - 1];
}
