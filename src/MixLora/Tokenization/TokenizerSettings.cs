using System.Text.Json;

namespace MixLora.Tokenization;

/// <summary>A token declared in tokenizer_config.json's added_tokens_decoder.</summary>
internal sealed record AddedTokenSpec(int Id, string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord, bool Normalized);

/// <summary>
/// What tokenizer_config.json (and, as a fallback for ids, the model's config.json) says about special tokens.
/// Token fields may be a string, null, or an object with "content" (the AddedToken form).
/// </summary>
internal sealed record TokenizerSettings
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }
    public string? UnkToken { get; init; }

    public bool? AddBosToken { get; init; }
    public bool CleanUpTokenizationSpaces { get; init; }
    public IReadOnlyList<AddedTokenSpec> AddedTokens { get; init; } = [];

    public int? ConfigBosId { get; init; }
    public int? ConfigEosId { get; init; }
    public int? ConfigPadId { get; init; }

    public static TokenizerSettings Empty { get; } = new();

    public static TokenizerSettings Load(string? tokenizerConfigPath, string? modelConfigPath)
    {
        var settings = new TokenizerSettings();
        if (tokenizerConfigPath != null) settings = FromTokenizerConfig(tokenizerConfigPath);
        if (modelConfigPath != null && File.Exists(modelConfigPath))
        {
            using var document = JsonFileReader.Parse(modelConfigPath);
            var root = document.RootElement;
            settings = settings with
            {
                ConfigBosId = FirstId(root, "bos_token_id", modelConfigPath),
                ConfigEosId = FirstId(root, "eos_token_id", modelConfigPath),
                ConfigPadId = FirstId(root, "pad_token_id", modelConfigPath),
            };
        }
        return settings;
    }

    private static TokenizerSettings FromTokenizerConfig(string path)
    {
        using var document = JsonFileReader.Parse(path);
        var root = document.RootElement;
        return new TokenizerSettings
        {
            BosToken = TokenText(root, "bos_token", path),
            EosToken = TokenText(root, "eos_token", path),
            PadToken = TokenText(root, "pad_token", path),
            UnkToken = TokenText(root, "unk_token", path),
            AddBosToken = JsonFileReader.OptionalBool(root, "add_bos_token", path, ""),
            CleanUpTokenizationSpaces = JsonFileReader.OptionalBool(root, "clean_up_tokenization_spaces", path, "") ?? false,
            AddedTokens = ReadAddedTokensDecoder(root, path),
        };
    }

    /// <summary>A special token given as a string, null, or an AddedToken object with "content".</summary>
    internal static string? TokenText(JsonElement root, string name, string path)
    {
        var value = JsonFileReader.Optional(root, name);
        if (value is null) return null;
        return value.Value.ValueKind switch
        {
            JsonValueKind.String => value.Value.GetString(),
            JsonValueKind.Object => JsonFileReader.RequiredString(value.Value, "content", path, name),
            _ => throw new InvalidFileException(path, $"'{name}' must be a string or an object with \"content\", got {Config.JsonSource.Kind(value.Value.ValueKind)}"),
        };
    }

    private static IReadOnlyList<AddedTokenSpec> ReadAddedTokensDecoder(JsonElement root, string path)
    {
        var decoder = JsonFileReader.Optional(root, "added_tokens_decoder");
        if (decoder is null) return [];
        if (decoder.Value.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException(path, "'added_tokens_decoder' must be an object keyed by token id");
        var tokens = new List<AddedTokenSpec>();
        foreach (var entry in decoder.Value.EnumerateObject())
        {
            string where = $"added_tokens_decoder.{entry.Name}";
            if (!int.TryParse(entry.Name, out int id) || id < 0)
                throw new InvalidFileException(path, $"'{where}': key must be a non-negative token id");
            if (entry.Value.ValueKind != JsonValueKind.Object)
                throw new InvalidFileException(path, $"'{where}' must be an object");
            tokens.Add(new AddedTokenSpec(
                id,
                JsonFileReader.RequiredString(entry.Value, "content", path, where),
                JsonFileReader.OptionalBool(entry.Value, "special", path, where) ?? false,
                JsonFileReader.OptionalBool(entry.Value, "lstrip", path, where) ?? false,
                JsonFileReader.OptionalBool(entry.Value, "rstrip", path, where) ?? false,
                JsonFileReader.OptionalBool(entry.Value, "single_word", path, where) ?? false,
                JsonFileReader.OptionalBool(entry.Value, "normalized", path, where) ?? false));
        }
        return tokens;
    }

    /// <summary>An id, or the first of a list of ids (Llama-3.1 lists several EOS ids).</summary>
    private static int? FirstId(JsonElement root, string name, string path)
    {
        var value = JsonFileReader.Optional(root, name);
        if (value is null) return null;
        if (value.Value.ValueKind == JsonValueKind.Array)
        {
            var first = value.Value.EnumerateArray().FirstOrDefault();
            return first.ValueKind == JsonValueKind.Undefined ? null : JsonFileReader.ToInt(first, path, name + "[0]");
        }
        return JsonFileReader.ToInt(value.Value, path, name);
    }
}
