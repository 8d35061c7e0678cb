using System.Text.Json;

namespace MixLora.Config;

/// <summary>
/// The keys of a Hugging Face <c>generation_config.json</c> that decoding reads: <c>eos_token_id</c>, a number or a
/// list. Instruct models list their end-of-turn tokens there (Phi-3's <c>&lt;|end|&gt;</c>, Llama-3's
/// <c>&lt;|eot_id|&gt;</c>) while config.json names only the end of text, so generation must stop at these too.
/// </summary>
public sealed record GenerationConfig(IReadOnlyList<int> EosTokenIds)
{
    public const string FileName = "generation_config.json";

    /// <summary>The folder's generation_config.json, or null when it has none.</summary>
    /// <exception cref="InvalidFileException">Not a JSON object, or eos_token_id neither a token id nor a list of them.</exception>
    public static GenerationConfig? Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        using var document = JsonSource.ParseObject(IO.Utf8TextFile.Read(path), path);
        if (!document.RootElement.TryGetProperty("eos_token_id", out var eos) || eos.ValueKind == JsonValueKind.Null) return new GenerationConfig([]);
        bool IsId(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0;
        if (IsId(eos)) return new GenerationConfig([eos.GetInt32()]);
        if (eos.ValueKind == JsonValueKind.Array && eos.EnumerateArray().All(IsId))
            return new GenerationConfig(eos.EnumerateArray().Select(e => e.GetInt32()).ToList());
        throw new InvalidFileException(path, $"eos_token_id must be a token id or a list of token ids, got {eos.GetRawText()}");
    }
}
