using System.Text.Json;
using static MixLora.Tokenization.JsonFileReader;

namespace MixLora.Tokenization;

/// <summary>
/// The tokenizer.json decoders we support: ByteLevel (byte-level BPE), and Replace, ByteFallback, Fuse, Strip and
/// Metaspace (SentencePiece-style files), alone or in a Sequence.
/// </summary>
internal static class HfDecoders
{
    public static DecoderPipeline Build(JsonElement? element, string path) =>
        new(element is null ? null : Read(element.Value, path, "decoder"));

    private static List<IDecoderStep> Read(JsonElement node, string path, string where)
    {
        string type = RequiredString(node, "type", path, where);
        switch (type)
        {
            case "Sequence":
                var children = Required(node, "decoders", path, where);
                if (children.ValueKind != JsonValueKind.Array) throw new InvalidFileException(path, $"'{where}.decoders' must be an array");
                var steps = new List<IDecoderStep>();
                int i = 0;
                foreach (var child in children.EnumerateArray()) steps.AddRange(Read(child, path, $"{where}.decoders[{i++}]"));
                return steps;
            case "ByteLevel": return [new ByteLevelDecoder()];
            case "Replace": return [new ReplaceDecoder(TextReplacer.Read(node, path, where))];
            case "ByteFallback": return [new ByteFallbackDecoder()];
            case "Fuse": return [new FuseDecoder()];
            case "Strip":
                string content = RequiredString(node, "content", path, where);
                if (content.EnumerateRunes().Count() != 1)
                    throw new InvalidFileException(path, $"'{where}.content' must be one character, got \"{content}\"");
                return [new StripDecoder(content, Count(node, "start", path, where), Count(node, "stop", path, where))];
            case "Metaspace":
                var (replacement, scheme) = HfPreTokenizers.ReadMetaspace(node, path, where);
                return [new MetaspaceDecoder(replacement, scheme)];
            default:
                throw Unsupported(path, where + ".type", type);
        }
    }

    private static int Count(JsonElement node, string name, string path, string where)
    {
        int value = ToInt(Required(node, name, path, where), path, Join(where, name));
        return value >= 0 ? value : throw new InvalidFileException(path, $"'{Join(where, name)}' is negative ({value})");
    }
}
