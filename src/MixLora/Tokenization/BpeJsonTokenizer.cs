namespace MixLora.Tokenization;

/// <summary>
/// A tokenizer.json with a BPE model, run by our own loader: byte-level files (Llama-3, Qwen2/3) and
/// SentencePiece-style files with '▁' for spaces and byte fallback (Gemma, Llama-2/Mistral/Phi-3 "fast"). Added
/// tokens are cut out of the raw text first; each stretch between them is normalized, pre-tokenized and merged by
/// the BPE model. Decoding maps ids to token strings and runs the file's decoder steps over them.
/// </summary>
/// <remarks>
/// BOS: tokenizer_config.json's add_bos_token decides when present; otherwise a TemplateProcessing post-processor
/// decides (BOS iff it puts a special token before the text); otherwise (a ByteLevel-only post-processor, as in
/// early Llama-3 files) BOS is added iff tokenizer_config.json names a bos_token (Llama-3 does, Qwen sets null).
/// Added tokens are all matched against the raw text, including those marked "normalized".
/// </remarks>
internal sealed class BpeJsonTokenizer : ITextTokenizer
{
    private readonly BpeModel _model;
    private readonly Func<string, string> _normalizer;
    private readonly PreTokenizerPipeline _preTokenizer;
    private readonly DecoderPipeline _decoder;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly Dictionary<int, AddedTokenSpec> _addedById = new();
    private readonly string?[] _idToToken;
    private readonly bool _cleanUpSpaces;

    public BpeJsonTokenizer(TokenizerJson json, TokenizerSettings settings)
    {
        _model = new BpeModel(json);
        _normalizer = json.Normalizer;
        _preTokenizer = json.PreTokenizer;
        _decoder = json.Decoder;
        Kind = json.ByteLevel ? "byte-level-bpe" : "sentencepiece-json";

        // tokenizer.json's added tokens are authoritative; tokenizer_config.json may only add new ones.
        foreach (var token in json.AddedTokens) _addedById[token.Id] = token;
        var knownContents = new HashSet<string>(json.AddedTokens.Select(t => t.Content), StringComparer.Ordinal);
        foreach (var token in settings.AddedTokens)
        {
            if (!_addedById.ContainsKey(token.Id) && knownContents.Add(token.Content)) _addedById[token.Id] = token;
        }
        _addedTokens = new AddedTokenSplitter(_addedById.Values);

        int maxId = Math.Max(json.Vocab.Count == 0 ? -1 : json.Vocab.Values.Max(), _addedById.Count == 0 ? -1 : _addedById.Keys.Max());
        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in json.Vocab) _idToToken[id] = token;
        foreach (var (id, token) in _addedById) _idToToken[id] = token.Content;
        VocabSize = maxId + 1;
        _cleanUpSpaces = settings.CleanUpTokenizationSpaces;

        UnkId = TokenId(json.UnkToken) ?? TokenId(settings.UnkToken);
        BosId = TokenId(settings.BosToken) ?? json.TemplateBos?.Id ?? settings.ConfigBosId;
        EosId = TokenId(settings.EosToken) ?? settings.ConfigEosId;
        PadId = TokenId(settings.PadToken) ?? settings.ConfigPadId;
        bool addBos = settings.AddBosToken ?? (json.TemplateDeclared ? json.TemplateBos != null : settings.BosToken != null);
        AddBos = addBos && BosId != null;
    }

    public string Kind { get; }
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public int? UnkId { get; }
    public bool AddBos { get; }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
        _addedTokens.Encode(text, addSpecialTokens && AddBos ? BosId : null, (plain, atStart, ids) =>
        {
            foreach (var piece in _preTokenizer.Run(_normalizer(plain), atStart)) _model.Encode(piece.Text, ids);
        });

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || _idToToken[id] is not string token) continue;
            if (skipSpecialTokens && _addedById.TryGetValue(id, out var added) && added.Special) continue;
            tokens.Add(token);
        }
        string text = _decoder.Decode(tokens);
        return _cleanUpSpaces ? TokenizationCleanup.Apply(text) : text;
    }

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    private int? TokenId(string? token)
    {
        if (token == null) return null;
        foreach (var (id, added) in _addedById)
        {
            if (added.Content == token) return id;
        }
        return _model.TryGetId(token);
    }
}
