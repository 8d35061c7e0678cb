using System.Text.Json;
using MixLora.Tokenization;

namespace MixLora.Export;

/// <summary>
/// The <c>tokenizer.ggml.*</c> metadata of a model folder's tokenizer, as llama.cpp's converter writes it:
/// "llama" (SentencePiece: pieces, scores, piece types) or "gpt2" (byte-level BPE: tokens, types, merges and the
/// pre-tokenizer's llama.cpp name). Special ids and add_bos come from our own tokenizer so both sides agree.
/// </summary>
internal static class GgufVocabulary
{
    // llama.cpp's token types (the numbering matches SentencePiece's piece types).
    private const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>
    /// llama.cpp names for the byte-level pre-tokenizers it implements, by the Split regex of tokenizer.json
    /// ("": no Split step, a bare ByteLevel pre-tokenizer with its built-in GPT-2 regex).
    /// </summary>
    private static readonly Dictionary<string, string> PreTokenizers = new(StringComparer.Ordinal)
    {
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "llama-bpe",
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "qwen2",
        [""] = "gpt-2",
    };

    /// <param name="vocabSize">Rows of the embedding: the token list is padded to it, as llama.cpp requires.</param>
    /// <exception cref="MixLoraException">No tokenizer, more tokens than rows, or a pre-tokenizer llama.cpp does not know.</exception>
    public static List<KeyValuePair<string, object>> Metadata(string modelDir, int vocabSize)
    {
        var tokenizer = TokenizerLoader.FromFolder(modelDir);
        if (tokenizer.VocabSize > vocabSize)
            throw new MixLoraException($"{modelDir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's embedding only {vocabSize} rows");
        var configPath = Path.Combine(modelDir, TokenizerLoader.TokenizerConfigName);
        var settings = TokenizerSettings.Load(File.Exists(configPath) ? configPath : null, Path.Combine(modelDir, TokenizerLoader.ModelConfigName));
        var tokens = Enumerable.Range(0, vocabSize).Select(id => tokenizer.IdToToken(id) ?? $"[PAD{id}]").ToList();
        var metadata = new List<KeyValuePair<string, object>>();
        if (tokenizer.Kind == "sentencepiece")
        {
            var spm = SentencePieceModelFile.Read(Path.Combine(modelDir, TokenizerLoader.SentencePieceModelName));
            var pieces = spm.Pieces;
            var added = AddedTypes(settings.AddedTokens);
            metadata.Add(new("tokenizer.ggml.model", "llama"));
            metadata.Add(new("tokenizer.ggml.tokens", tokens));
            // Ids past the model's pieces (added tokens, padding) get the converter's score of -1000.
            metadata.Add(new("tokenizer.ggml.scores", Enumerable.Range(0, vocabSize).Select(id => id < pieces.Count ? pieces[id].Score : -1000f).ToList()));
            metadata.Add(new("tokenizer.ggml.token_type", Enumerable.Range(0, vocabSize)
                .Select(id => id < pieces.Count ? (int)pieces[id].Type : added.GetValueOrDefault(id, Unused)).ToList()));
            metadata.Add(new("tokenizer.ggml.add_space_prefix", spm.AddDummyPrefix));
        }
        else if (tokenizer.Kind == "byte-level-bpe")
        {
            string jsonPath = TokenizerLoader.FindTokenizerJson(modelDir)!;
            using var document = JsonFileReader.Parse(jsonPath);
            var json = TokenizerJson.Read(document.RootElement, jsonPath);
            var added = AddedTypes(json.AddedTokens.Concat(settings.AddedTokens));
            metadata.Add(new("tokenizer.ggml.model", "gpt2"));
            metadata.Add(new("tokenizer.ggml.pre", PreTokenizerName(document.RootElement, json.FilePath)));
            metadata.Add(new("tokenizer.ggml.tokens", tokens));
            metadata.Add(new("tokenizer.ggml.token_type", Enumerable.Range(0, vocabSize)
                .Select(id => added.TryGetValue(id, out var type) ? type : tokenizer.IdToToken(id) is null ? Unused : Normal).ToList()));
            metadata.Add(new("tokenizer.ggml.merges", json.Merges.Select(m => $"{m.Left} {m.Right}").ToList()));
        }
        else
        {
            // llama.cpp's "llama" vocabulary needs the SentencePiece scores and piece types, which a
            // SentencePiece-style tokenizer.json does not hold.
            throw new MixLoraException($"{modelDir}: GGUF export needs {TokenizerLoader.SentencePieceModelName} for a SentencePiece-style " +
                                       $"tokenizer.json (tokenizer kind '{tokenizer.Kind}'); add the model's {TokenizerLoader.SentencePieceModelName} to the folder");
        }
        if (tokenizer.BosId is { } bos) metadata.Add(new("tokenizer.ggml.bos_token_id", (uint)bos));
        if (tokenizer.EosId is { } eos) metadata.Add(new("tokenizer.ggml.eos_token_id", (uint)eos));
        if (tokenizer.UnkId is { } unk) metadata.Add(new("tokenizer.ggml.unknown_token_id", (uint)unk));
        if (tokenizer.PadId is { } pad) metadata.Add(new("tokenizer.ggml.padding_token_id", (uint)pad));
        metadata.Add(new("tokenizer.ggml.add_bos_token", tokenizer.AddBos));
        metadata.Add(new("tokenizer.ggml.add_eos_token", false));     // our tokenizers never append EOS
        return metadata;
    }

    /// <summary>Added tokens by id: special ones are control tokens, the others user-defined (the first entry of an id wins).</summary>
    private static Dictionary<int, int> AddedTypes(IEnumerable<AddedTokenSpec> added)
    {
        var types = new Dictionary<int, int>();
        foreach (var token in added) types.TryAdd(token.Id, token.Special ? Control : UserDefined);
        return types;
    }

    private static string PreTokenizerName(JsonElement root, string path)
    {
        string pattern = SplitPatterns(root.TryGetProperty("pre_tokenizer", out var pre) ? pre : default).FirstOrDefault() ?? "";
        return PreTokenizers.TryGetValue(pattern, out var name)
            ? name
            : throw new MixLoraException($"{path}: the pre-tokenizer pattern \"{pattern}\" is not one llama.cpp implements for this export " +
                                         "(supported: Llama-3's, GPT-2's); the model cannot be exported to GGUF");
    }

    /// <summary>The Regex patterns of the Split steps of a pre_tokenizer (a single step or a Sequence).</summary>
    private static IEnumerable<string> SplitPatterns(JsonElement node)
    {
        if (node.ValueKind != JsonValueKind.Object) yield break;
        if (node.TryGetProperty("pretokenizers", out var steps) && steps.ValueKind == JsonValueKind.Array)
            foreach (var step in steps.EnumerateArray())
                foreach (var pattern in SplitPatterns(step)) yield return pattern;
        if (node.TryGetProperty("type", out var type) && type.ValueEquals("Split")
            && node.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object
            && p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
            yield return regex.GetString()!;
    }
}
