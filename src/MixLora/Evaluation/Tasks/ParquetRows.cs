using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;

namespace MixLora.Evaluation;

/// <summary>
/// Reads a Parquet file (as the Hugging Face Hub stores datasets) into a JSON array of row objects: strings,
/// booleans and numbers become JSON values, structs become objects and lists become arrays (ARC's
/// <c>choices</c> struct of two string lists, HellaSwag's <c>endings</c>). Null cells are left out.
/// </summary>
internal static class ParquetRows
{
    /// <exception cref="InvalidFileException">The file is not a readable Parquet file.</exception>
    public static JsonDocument ReadAsJson(string path)
    {
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            // Nothing here runs on a synchronisation context, so blocking on the async reader cannot deadlock.
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidFileException(path, $"not a readable Parquet file: {e.Message}", e);
        }

        var array = new JsonArray();
        foreach (var row in rows) array.Add(ToNode(row));
        return JsonSerializer.SerializeToDocument(array);
    }

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        string text => JsonValue.Create(text),
        ReadOnlyMemory<char> text => JsonValue.Create(text.ToString()),
        bool flag => JsonValue.Create(flag),
        sbyte or byte or short or ushort or int or uint or long => JsonValue.Create(Convert.ToInt64(value)),
        ulong number => JsonValue.Create(number),
        float number => JsonValue.Create(number),
        double number => JsonValue.Create(number),
        decimal number => JsonValue.Create(number),
        byte[] bytes => JsonValue.Create(Convert.ToBase64String(bytes)),
        IDictionary map => ToObject(map),
        IEnumerable items => ToArray(items),
        _ => JsonValue.Create(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)),
    };

    private static JsonObject ToObject(IDictionary map)
    {
        var node = new JsonObject();
        foreach (DictionaryEntry entry in map)
        {
            if (entry.Value is not null) node[entry.Key.ToString()!] = ToNode(entry.Value);
        }
        return node;
    }

    private static JsonArray ToArray(IEnumerable items)
    {
        var node = new JsonArray();
        foreach (var item in items) node.Add(ToNode(item));
        return node;
    }
}
