using System.Globalization;

namespace MixLora.IO.Gguf;

/// <summary>The rows `mixlora info FILE.gguf` prints.</summary>
public static class GgufDescription
{
    public static IReadOnlyList<(string Key, string Value)> Describe(GgufHeader header)
    {
        var m = header.Metadata;
        string Get(string key) => m.TryGetValue(key, out var v) ? Show(v) : "-";
        var arch = m.TryGetValue("general.architecture", out var a) ? a as string ?? "?" : "?";
        var rows = new List<(string, string)>
        {
            ("GGUF version", header.Version.ToString(CultureInfo.InvariantCulture)),
            ("architecture", arch),
            ("name", Get("general.name")),
            ("layers", Get($"{arch}.block_count")),
            ("hidden size", Get($"{arch}.embedding_length")),
            ("context", Get($"{arch}.context_length")),
            ("experts (used)", m.ContainsKey($"{arch}.expert_count") ? $"{Get($"{arch}.expert_count")} ({Get($"{arch}.expert_used_count")})" : "none"),
            ("tokenizer", $"{Get("tokenizer.ggml.model")}, {(m.TryGetValue("tokenizer.ggml.tokens", out var t) && t is List<object> tokens ? tokens.Count : 0)} tokens"),
            ("metadata keys", m.Count.ToString(CultureInfo.InvariantCulture)),
            ("tensors", $"{header.Tensors.Count}: " + string.Join(", ", header.Tensors.GroupBy(x => x.Type).Select(g => $"{g.Count()} {g.Key}"))),
            ("parameters", header.Tensors.Aggregate(0UL, (sum, x) => sum + x.ElementCount).ToString("N0", CultureInfo.InvariantCulture)),
            ("tensor data", $"{header.Tensors.Aggregate(0UL, (sum, x) => sum + x.ByteSize) / 1048576.0:F1} MiB"),
        };
        return rows;
    }

    private static string Show(object value) => value switch
    {
        List<object> list => $"[{list.Count} items]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
