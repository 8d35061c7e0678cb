using System.Text;
using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>The tokenizer.json normalizers we support: Unicode normal forms, Lowercase, and Sequences of them.</summary>
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
                throw new MixLoraException($"{path}: '{where}.type' = \"{type}\" is not supported by this byte-level BPE loader");
        }
    }
}
