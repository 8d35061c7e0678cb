using System.IO.Compression;
using System.Text.Json;

namespace MixLora.Tokenization;

/// <summary>Reads the JSON files of a tokenizer folder, turning format problems into errors that name the file and key.</summary>
internal static class JsonFileReader
{
    // tokenizer.json files of large-vocabulary models reach tens of MB; anything beyond this is not a tokenizer.
    private const long MaxFileBytes = 256L * 1024 * 1024;

    /// <summary>Parses a JSON file; a name ending in ".gz" is gzip-compressed JSON (the limit applies to the unpacked size).</summary>
    public static JsonDocument Parse(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new MixLoraException($"{path}: file not found");
        if (info.Length > MaxFileBytes) throw new InvalidFileException(path, $"{info.Length} bytes is too large for a tokenizer file");
        try
        {
            var document = JsonDocument.Parse(IsGzip(path) ? ReadGzip(path) : File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new InvalidFileException(path, "expected a JSON object at the top level");
            }
            return document;
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(path, $"not valid JSON ({e.Message})", e);
        }
    }

    public static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    private static ReadOnlyMemory<byte> ReadGzip(string path)
    {
        try
        {
            using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            var output = new MemoryStream();
            var buffer = new byte[1 << 16];
            int read;
            while ((read = gzip.Read(buffer)) > 0)
            {
                if (output.Length + read > MaxFileBytes) throw new InvalidFileException(path, $"unpacks to more than {MaxFileBytes} bytes, too large for a tokenizer file");
                output.Write(buffer, 0, read);
            }
            return output.GetBuffer().AsMemory(0, (int)output.Length);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidFileException(path, $"not a valid gzip file ({e.Message})", e);
        }
    }

    /// <summary>The error for a component we do not implement: names the file, the JSON key and its value.</summary>
    public static MixLoraException Unsupported(string path, string key, string value) =>
        new($"{path}: '{key}' = \"{value}\" is not supported by this tokenizer.json loader");

    /// <summary>The property if present and not null.</summary>
    public static JsonElement? Optional(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value : null;

    public static JsonElement Required(JsonElement obj, string name, string path, string where) =>
        Optional(obj, name) ?? throw new InvalidFileException(path, $"missing '{Join(where, name)}'");

    public static string RequiredString(JsonElement obj, string name, string path, string where)
    {
        var value = Required(obj, name, path, where);
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidFileException(path, $"'{Join(where, name)}' must be a string, got {Config.JsonSource.Kind(value.ValueKind)}");
    }

    public static string? OptionalString(JsonElement obj, string name, string path, string where)
    {
        var value = Optional(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind == JsonValueKind.String
            ? value.Value.GetString()
            : throw new InvalidFileException(path, $"'{Join(where, name)}' must be a string, got {Config.JsonSource.Kind(value.Value.ValueKind)}");
    }

    public static bool? OptionalBool(JsonElement obj, string name, string path, string where)
    {
        var value = Optional(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidFileException(path, $"'{Join(where, name)}' must be true or false, got {Config.JsonSource.Kind(value.Value.ValueKind)}"),
        };
    }

    public static int ToInt(JsonElement value, string path, string key) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result)
            ? result
            : throw new InvalidFileException(path, $"'{key}' must be an integer, got {value}");

    public static string Join(string where, string name) => where.Length == 0 ? name : where + "." + name;
}
