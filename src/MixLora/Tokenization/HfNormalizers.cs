using System.Text;
using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>
/// The tokenizer.json normalizers we support: Unicode normal forms, Lowercase, Replace, Prepend, and Sequences of
/// them. A normalizer runs separately on each stretch of text between added tokens, as in tokenizers.
/// </summary>
internal static class HfNormalizers
{
    public static Func<string, string> Build(JsonElement? element, string path, string where)
    {
        if (element is null) return static text => text;
        var node = element.Value;
        string type = RequiredString(node, "type", path, where);
        switch (type)
        {
            case "NFC": return static text => text.Normalize(NormalizationForm.FormC);
            case "NFD": return static text => text.Normalize(NormalizationForm.FormD);
            case "NFKC": return static text => text.Normalize(NormalizationForm.FormKC);
            case "NFKD": return static text => text.Normalize(NormalizationForm.FormKD);
            case "Lowercase": return static text => text.ToLowerInvariant();
            case "Replace": return TextReplacer.Read(node, path, where).Apply;
            case "Prepend":
                // Llama-2 "fast" files prepend '▁' (SentencePiece's dummy prefix); an empty stretch stays empty.
                string prefix = RequiredString(node, "prepend", path, where);
                return text => text.Length == 0 ? text : prefix + text;
            case "Sequence":
                var children = Required(node, "normalizers", path, where);
                if (children.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, $"'{where}.normalizers' must be an array");
                int i = 0;
                var steps = children.EnumerateArray().Select(child => Build(child, path, $"{where}.normalizers[{i++}]")).ToArray();
                return text =>
                {
                    foreach (var step in steps) text = step(text);
                    return text;
                };
            default:
                throw Unsupported(path, where + ".type", type);
        }
    }
}
