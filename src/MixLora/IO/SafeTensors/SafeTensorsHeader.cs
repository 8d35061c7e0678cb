namespace MixLora.IO;

/// <summary>The validated header of a safetensors file: its tensor entries and its <c>__metadata__</c>.</summary>
public sealed class SafeTensorsHeader
{
    private readonly Dictionary<string, SafeTensorInfo> _byName;

    internal SafeTensorsHeader(
        string filePath,
        IReadOnlyList<SafeTensorInfo> tensors,
        IReadOnlyDictionary<string, string> metadata,
        long headerLength,
        long fileLength)
    {
        FilePath = filePath;
        Tensors = tensors;
        Metadata = metadata;
        HeaderLength = headerLength;
        FileLength = fileLength;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file this header was read from.</summary>
    public string FilePath { get; }

    /// <summary>The tensor entries in file order (ascending data offset).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map in header order; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Length N of the JSON header in bytes (the value of the first 8 bytes).</summary>
    public long HeaderLength { get; }

    /// <summary>Absolute file offset of the data buffer: 8 + N.</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Length of the whole file in bytes when the header was read.</summary>
    public long FileLength { get; }

    /// <summary>Length of the data buffer: everything after the header.</summary>
    public long DataLength => FileLength - DataStart;

    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public SafeTensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);
}
