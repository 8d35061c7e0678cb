using System.Text.Json;

namespace MixLora.Tokenization;

/// <summary>Loads the tokenizer of a Hugging Face model folder or a single tokenizer file.</summary>
public static class TokenizerLoader
{
    public const string TokenizerJsonName = "tokenizer.json";
    public const string CompressedTokenizerJsonName = "tokenizer.json.gz";
    public const string SentencePieceModelName = "tokenizer.model";
    public const string TokenizerConfigName = "tokenizer_config.json";
    public const string ModelConfigName = "config.json";

    /// <summary>
    /// Loads a model folder's tokenizer from tokenizer.json (or a gzip-compressed tokenizer.json.gz when there is no
    /// tokenizer.json) or tokenizer.model. A byte-level BPE tokenizer.json (Llama-3, Qwen) is used as is. A
    /// SentencePiece-style tokenizer.json (Gemma, Llama-2/Mistral/Phi-3 "fast") is used only when the folder has no
    /// tokenizer.model; the SentencePiece model it was converted from comes first, as it did before this loader
    /// read such files (GGUF export takes its piece scores and types from it). tokenizer_config.json supplies the
    /// special tokens and add_bos_token; config.json's bos/eos/pad ids are the fallback.
    /// </summary>
    public static ITextTokenizer FromFolder(string modelDir)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        if (!Directory.Exists(modelDir)) throw new MixLoraException($"{modelDir}: model folder not found");
        string? jsonPath = FindTokenizerJson(modelDir);
        string spmPath = Path.Combine(modelDir, SentencePieceModelName);
        string configPath = Path.Combine(modelDir, TokenizerConfigName);
        var settings = TokenizerSettings.Load(File.Exists(configPath) ? configPath : null, Path.Combine(modelDir, ModelConfigName));

        if (jsonPath != null)
        {
            using var document = JsonFileReader.Parse(jsonPath);
            if (TokenizerJson.IsByteLevel(document.RootElement) || !File.Exists(spmPath))
                return new BpeJsonTokenizer(TokenizerJson.Read(document.RootElement, jsonPath), settings);
        }
        if (File.Exists(spmPath)) return new SentencePieceTokenizer(SentencePieceModelFile.Read(spmPath), settings);
        throw new MixLoraException($"{modelDir}: no tokenizer found (expected {TokenizerJsonName}, {CompressedTokenizerJsonName} or {SentencePieceModelName})");
    }

    /// <summary>The folder's tokenizer.json, else its tokenizer.json.gz, else null.</summary>
    internal static string? FindTokenizerJson(string modelDir) =>
        new[] { TokenizerJsonName, CompressedTokenizerJsonName }.Select(name => Path.Combine(modelDir, name)).FirstOrDefault(File.Exists);

    /// <summary>
    /// Loads one tokenizer file: a tokenizer.json (byte-level or SentencePiece-style BPE; ".json.gz" when
    /// gzip-compressed) or a SentencePiece model. <paramref name="tokenizerConfigPath"/> optionally names a
    /// tokenizer_config.json.
    /// </summary>
    public static ITextTokenizer FromFile(string tokenizerPath, string? tokenizerConfigPath = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerPath);
        if (!File.Exists(tokenizerPath)) throw new MixLoraException($"{tokenizerPath}: tokenizer file not found");
        if (tokenizerConfigPath != null && !File.Exists(tokenizerConfigPath))
            throw new MixLoraException($"{tokenizerConfigPath}: tokenizer config file not found");
        var settings = TokenizerSettings.Load(tokenizerConfigPath, null);

        if (!JsonFileReader.IsGzip(tokenizerPath) && !LooksLikeJson(tokenizerPath))
            return new SentencePieceTokenizer(SentencePieceModelFile.Read(tokenizerPath), settings);
        using var document = JsonFileReader.Parse(tokenizerPath);
        return new BpeJsonTokenizer(TokenizerJson.Read(document.RootElement, tokenizerPath), settings);
    }

    /// <summary>
    /// ".json" is JSON and ".model" SentencePiece; otherwise sniff for a leading '{' (a SentencePiece model starts
    /// with the protobuf key byte 0x0A, which is why the extension is checked first).
    /// </summary>
    private static bool LooksLikeJson(string path)
    {
        string extension = Path.GetExtension(path);
        if (extension.Equals(".json", StringComparison.OrdinalIgnoreCase)) return true;
        if (extension.Equals(".model", StringComparison.OrdinalIgnoreCase)) return false;
        using var stream = File.OpenRead(path);
        int b;
        while ((b = stream.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) { }
        return b == '{';
    }
}
