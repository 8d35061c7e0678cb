using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MixLora.IO;

namespace MixLora.Benchmarks.Harness;

/// <summary>JSON reading and writing shared by the benchmark cases.</summary>
public static class JsonFiles
{
    /// <summary>
    /// Non-finite numbers (the forward-only variant's NaN loss) are written as the strings "NaN"/"Infinity": plain
    /// JSON has no such numbers and System.Text.Json refuses them otherwise.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        // Result files are read by people and scripts, never embedded in HTML: keep + ' < > as they are.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The same, on one line (a worker's result line).</summary>
    public static readonly JsonSerializerOptions OneLine = new(Options) { WriteIndented = false };

    /// <summary>Writes <paramref name="node"/> via a temporary file and a rename (creating the folder), so a reader never sees half a file.</summary>
    public static void WriteAtomic(string path, JsonNode node) =>
        AtomicFile.WriteAllText(path, node.ToJsonString(Options) + "\n");

    /// <summary>
    /// Parses JSON as Python's json module writes it: bare NaN, Infinity and -Infinity (not JSON, but what
    /// json.dump emits for a NaN loss) become null. Text inside strings is left alone.
    /// </summary>
    public static JsonNode? ParseLenient(string text)
    {
        var clean = new StringBuilder(text.Length);
        bool inString = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                clean.Append(c);
                if (c == '\\' && i + 1 < text.Length) clean.Append(text[++i]); // an escaped quote does not end the string
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (Replace(text, ref i, "-Infinity") || Replace(text, ref i, "Infinity") || Replace(text, ref i, "NaN"))
            {
                clean.Append("null");
                continue;
            }
            clean.Append(c);
        }
        return JsonNode.Parse(clean.ToString());

        static bool Replace(string text, ref int i, string token)
        {
            if (string.CompareOrdinal(text, i, token, 0, token.Length) != 0) return false;
            i += token.Length - 1;
            return true;
        }
    }
}
