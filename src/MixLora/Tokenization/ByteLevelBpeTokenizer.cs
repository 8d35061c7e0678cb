using System.Text;

namespace MixLora.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer.json (Llama-3, Qwen2/3) run by our own loader: added tokens are cut out of the raw
/// text first, the rest is normalized, pre-tokenized (regex Split, ByteLevel) and merged by the BPE model.
/// </summary>
/// <remarks>
/// BOS: tokenizer_config.json's add_bos_token decides when present; otherwise a TemplateProcessing post-processor
/// decides (BOS iff it puts a special token before the text); otherwise (a ByteLevel-only post-processor, as in
/// early Llama-3 files) BOS is added iff tokenizer_config.json names a bos_token (Llama-3 does, Qwen sets null).
/// Added tokens are all matched against the raw text, including those marked "normalized".
/// </remarks>
internal sealed class ByteLevelBpeTokenizer : ITextTokenizer
{
    private readonly BpeModel _model;
    private readonly Func<string, string> _normalizer;
    private readonly PreTokenizerPipeline _preTokenizer;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly Dictionary<int, AddedTokenSpec> _addedById = new();
    private readonly string?[] _idToToken;
    private readonly bool _cleanUpSpaces;

    public ByteLevelBpeTokenizer(TokenizerJson json, TokenizerSettings settings)
    {
        _model = new BpeModel(json.Vocab, json.Merges, json.IgnoreMerges, json.FilePath);
        _normalizer = json.Normalizer;
        _preTokenizer = json.PreTokenizer;

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

    public string Kind => "byte-level-bpe";
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public int? UnkId { get; }
    public bool AddBos { get; }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
        _addedTokens.Encode(text, addSpecialTokens && AddBos ? BosId : null, (plain, ids) =>
        {
            foreach (var piece in _preTokenizer.Run(_normalizer(plain))) _model.Encode(piece, ids);
        });

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || _idToToken[id] is not string token) continue;
            if (skipSpecialTokens && _addedById.TryGetValue(id, out var added) && added.Special) continue;
            ByteLevelAlphabet.AppendBytes(token, bytes);
        }
        var text = new StringBuilder(bytes.Count);
        Utf8Text.DecodeLossy(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes), text,
            replacePerByte: false, holdBackIncompleteTail: true);
        return _cleanUpSpaces ? TokenizationCleanup.Apply(text.ToString()) : text.ToString();
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
