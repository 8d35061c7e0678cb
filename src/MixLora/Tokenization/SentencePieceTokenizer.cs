using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// A SentencePiece BPE <c>tokenizer.model</c> (LLaMA-1/2, Mistral, Gemma, llama2.c's tok512), reproducing the
/// reference SentencePiece library's encoding and decoding. Tokens listed in tokenizer_config.json's
/// added_tokens_decoder (the model's control pieces such as &lt;s&gt; or [INST], and new tokens appended after the
/// model's pieces) are matched in the raw text first, as Hugging Face does; without that list, control pieces
/// typed in the text stay literal text, as in SentencePiece.
/// </summary>
/// <remarks>
/// Written here rather than on Microsoft.ML.Tokenizers 2.0.1, whose SentencePiece encoder disagrees with the
/// reference on ties between equal-score merges ("###" → "#","##" instead of "##","#") and drops single-character
/// inputs when the model removes extra whitespace (tok512 encodes "A" as nothing).
/// </remarks>
internal sealed class SentencePieceTokenizer : ITextTokenizer
{
    private readonly SentencePieceModelFile _model;
    private readonly SentencePieceNormalizer _normalizer;
    private readonly SentencePieceBpeSegmenter _segmenter;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly Dictionary<int, AddedTokenSpec> _addedById;
    private readonly bool _cleanUpSpaces;

    public SentencePieceTokenizer(SentencePieceModelFile model, TokenizerSettings settings)
    {
        if (model.ModelType != SentencePieceModelFile.ModelTypeBpe)
        {
            string kind = model.ModelType == SentencePieceModelFile.ModelTypeUnigram ? "unigram" : $"type {model.ModelType}";
            throw new MixLoraException($"{model.FilePath}: SentencePiece {kind} models are not supported (only BPE models such as LLaMA, Mistral and Gemma)");
        }
        _model = model;
        var userDefined = new LongestMatchTable(model.Pieces.Where(p => p.Type == SentencePieceType.UserDefined).Select(p => p.Piece));
        _normalizer = new SentencePieceNormalizer(model, userDefined);
        _segmenter = new SentencePieceBpeSegmenter(model, userDefined);

        // Tokens beyond the model's own pieces are new ids; the others (e.g. <s>) decode as the model's pieces.
        _addedTokens = new AddedTokenSplitter(settings.AddedTokens);
        var extra = settings.AddedTokens.Where(t => t.Id >= model.Pieces.Count).ToList();
        _addedById = extra.ToDictionary(t => t.Id);
        _cleanUpSpaces = settings.CleanUpTokenizationSpaces;
        VocabSize = Math.Max(model.Pieces.Count, extra.Count == 0 ? 0 : extra.Max(t => t.Id) + 1);

        UnkId = TokenId(settings.UnkToken) ?? _segmenter.UnknownId;
        BosId = TokenId(settings.BosToken) ?? ControlId(model.BosPiece) ?? settings.ConfigBosId;
        EosId = TokenId(settings.EosToken) ?? ControlId(model.EosPiece) ?? settings.ConfigEosId;
        PadId = TokenId(settings.PadToken) ?? ControlId(model.PadPiece) ?? settings.ConfigPadId;
        // HF's LlamaTokenizer (and Gemma's) add BOS unless tokenizer_config.json says otherwise.
        AddBos = (settings.AddBosToken ?? true) && BosId != null;
    }

    public string Kind => "sentencepiece";
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public int? UnkId { get; }
    public bool AddBos { get; }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
        _addedTokens.Encode(text, addSpecialTokens && AddBos ? BosId : null,
            (plain, _, ids) => _segmenter.Segment(_normalizer.Normalize(plain), ids));

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var pendingBytes = new List<byte>();
        bool expectBosSpace = true;   // the dummy prefix space of the first piece is not part of the text
        bool bosSpaceSeen = false;
        foreach (int id in ids)
        {
            if (id < 0 || (id >= _model.Pieces.Count && !_addedById.ContainsKey(id))) continue;
            if (id < _model.Pieces.Count && _model.Pieces[id].Type == SentencePieceType.Byte)
            {
                pendingBytes.Add((byte)SentencePieceBpeSegmenter.ParseBytePiece(_model.Pieces[id].Piece));
                continue;
            }
            FlushBytes(pendingBytes, text, atEnd: false);
            if (bosSpaceSeen || text.Length > 0) expectBosSpace = false;
            bosSpaceSeen = AppendPiece(id, text, expectBosSpace, skipSpecialTokens);
        }
        FlushBytes(pendingBytes, text, atEnd: true);
        return _cleanUpSpaces ? TokenizationCleanup.Apply(text.ToString()) : text.ToString();
    }

    public string? IdToToken(int id)
    {
        if (id >= 0 && id < _model.Pieces.Count) return _model.Pieces[id].Piece;
        return _addedById.TryGetValue(id, out var token) ? token.Content : null;
    }

    /// <summary>Appends the surface of one non-byte id; returns whether it consumed the leading dummy space.</summary>
    private bool AppendPiece(int id, StringBuilder text, bool expectBosSpace, bool skipSpecialTokens)
    {
        if (id >= _model.Pieces.Count)
        {
            var added = _addedById[id];
            if (!(added.Special && skipSpecialTokens)) text.Append(added.Content);
            return false;
        }
        var entry = _model.Pieces[id];
        switch (entry.Type)
        {
            case SentencePieceType.Control:
                if (!skipSpecialTokens) text.Append(entry.Piece);
                return false;
            case SentencePieceType.Unknown:
                text.Append(_model.UnkSurface);
                return false;
        }
        var piece = entry.Piece.AsSpan();
        bool consumedSpace = false;
        if (expectBosSpace && (_model.AddDummyPrefix || _model.RemoveExtraWhitespaces) && piece.Length > 0
            && piece[0] == SentencePieceNormalizer.SpaceSymbol)
        {
            piece = piece[1..];
            // With extra whitespace removed there can be no real leading space, so keep stripping.
            consumedSpace = !_model.RemoveExtraWhitespaces;
        }
        foreach (char c in piece) text.Append(c == SentencePieceNormalizer.SpaceSymbol ? ' ' : c);
        return consumedSpace;
    }

    private static void FlushBytes(List<byte> pendingBytes, StringBuilder text, bool atEnd)
    {
        if (pendingBytes.Count == 0) return;
        Utf8Text.DecodeLossy(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pendingBytes), text,
            replacePerByte: true, holdBackIncompleteTail: atEnd);
        pendingBytes.Clear();
    }

    private int? TokenId(string? token)
    {
        if (token == null) return null;
        var added = _addedById.Values.FirstOrDefault(t => t.Content == token);
        return added?.Id ?? _segmenter.PieceToId(token);
    }

    private int? ControlId(string piece) =>
        _segmenter.PieceToId(piece) is int id && _model.Pieces[id].Type == SentencePieceType.Control ? id : null;
}
