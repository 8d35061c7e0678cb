using System.Text.Json;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Tokenization;

/// <summary>The reference ids of assets/golden/tokenizers and the tokenizers they were made with, loaded once.</summary>
public static class TokenizerGolden
{
    public sealed record Case(string Text, int[] Ids, string Decoded);

    private static readonly Lazy<JsonDocument> Spm = new(() => Load("spm_golden.json"));
    private static readonly Lazy<JsonDocument> Hf = new(() => Load("hf_golden.json"));
    private static readonly Lazy<JsonDocument> Gemma3 = new(() => Load("gemma3_golden.json"));

    private static readonly Dictionary<string, Lazy<ITextTokenizer>> Tokenizers = new()
    {
        ["llama2"] = new(() => TokenizerLoader.FromFile(RepoPaths.Asset("tokenizers", "llama2", "tokenizer.model"))),
        ["tok512"] = new(() => TokenizerLoader.FromFile(RepoPaths.Asset("stories260K", "tok512.model"))),
        ["qwen3"] = new(() => TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", "qwen3"))),
        ["llama3"] = new(() => TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", "llama3"))),
        // tokenizer.json.gz (the 33 MB tokenizer.json gzip-compressed) and tokenizer_config.json.
        ["gemma3"] = new(() => TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", "gemma3"))),
    };

    public static ITextTokenizer Tokenizer(string model) => Tokenizers[model].Value;

    public static JsonElement SpmModel(string model) => Spm.Value.RootElement.GetProperty(model);

    /// <summary>gemma3_golden.json's "gemma3" object: cases, bos_id, eos_token_ids, hello_with_special_tokens.</summary>
    public static JsonElement Gemma3Reference => Gemma3.Value.RootElement.GetProperty("gemma3");

    public static IReadOnlyList<string> Strings()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(RepoPaths.Asset("golden", "tokenizers", "strings.json")));
        return document.RootElement.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    public static IReadOnlyList<Case> Cases(string model)
    {
        bool isSpm = model is "llama2" or "tok512";
        var root = isSpm ? Spm.Value.RootElement : model == "gemma3" ? Gemma3.Value.RootElement : Hf.Value.RootElement;
        string idsKey = isSpm ? "ids_no_bos" : "ids_no_special";
        return root.GetProperty(model).GetProperty("cases").EnumerateArray()
            .Select(c => new Case(
                c.GetProperty("text").GetString()!,
                c.GetProperty(idsKey).EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                c.GetProperty("decoded").GetString()!))
            .ToList();
    }

    /// <summary>One row per (model, case index) for xunit's MemberData.</summary>
    public static TheoryData<string, int> CaseRows(params string[] models)
    {
        var rows = new TheoryData<string, int>();
        foreach (var model in models)
        {
            for (int i = 0; i < Cases(model).Count; i++) rows.Add(model, i);
        }
        return rows;
    }

    private static JsonDocument Load(string name) =>
        JsonDocument.Parse(File.ReadAllBytes(RepoPaths.Asset("golden", "tokenizers", name)));
}
