using System.Text.Json;

namespace MixLora.Config;

/// <summary>Parsing of our JSON files with errors that name the file and the position.</summary>
internal static class JsonSource
{
    /// <summary>Parses <paramref name="json"/>, which must hold one JSON object; the caller disposes the document.</summary>
    public static JsonDocument ParseObject(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(source, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(" LineNumber:")[0]}", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new InvalidFileException(source, $"expected a JSON object at the top level, got {kind}");
        }
        return document;
    }
}
