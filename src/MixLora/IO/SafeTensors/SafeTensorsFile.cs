using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of JSON describing
/// each tensor (dtype, shape, data_offsets), then the raw little-endian tensor data.
/// </summary>
public static class SafeTensorsFile
{
    /// <summary>Metadata written when the caller gives none; the value Hugging Face tools expect for PyTorch weights.</summary>
    public static IReadOnlyDictionary<string, string> DefaultMetadata { get; } =
        new Dictionary<string, string> { ["format"] = "pt" }.AsReadOnly();

    /// <summary>Reads and validates the header of <paramref name="path"/> without reading any tensor data.</summary>
    /// <exception cref="InvalidFileException">The file is missing, truncated or malformed.</exception>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var file = OpenForRead(path);
        return SafeTensorsHeaderParser.Read(path, file);
    }

    /// <summary>
    /// Loads tensors onto the CPU, in file order. By default each keeps its stored dtype; with
    /// <paramref name="convertTo"/> floating tensors (F16, BF16, F32, F64) are converted while loading and the
    /// others are left alone. With <paramref name="only"/>, loads just those names (each must exist).
    /// </summary>
    /// <exception cref="InvalidFileException">The file is malformed, or a requested name is not in it.</exception>
    public static OrderedDictionary<string, torch.Tensor> Load(
        string path, torch.ScalarType? convertTo = null, IEnumerable<string>? only = null)
    {
        if (convertTo is { } target && !torch.is_floating_point(target))
        {
            throw new ArgumentException($"convertTo must be a floating type, not {target}.", nameof(convertTo));
        }

        using var file = OpenForRead(path);
        var header = SafeTensorsHeaderParser.Read(path, file);
        var selected = Select(header, only);

        // Tensors loaded before a failure are disposed with the scope; on success they move to the caller's scope.
        using var scope = torch.NewDisposeScope();
        var loaded = new OrderedDictionary<string, torch.Tensor>(StringComparer.Ordinal);
        foreach (var info in selected)
        {
            loaded.Add(info.Name, ReadTensor(header, file, info, convertTo));
        }
        foreach (var tensor in loaded.Values)
        {
            tensor.MoveToOuterDisposeScope();
        }
        return loaded;
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> in the given order with contiguous data offsets, and
    /// <paramref name="metadata"/> (default <see cref="DefaultMetadata"/>) as <c>__metadata__</c>. Tensors may live
    /// on any device and be non-contiguous. The file is written to a temporary file in the same folder and renamed
    /// over <paramref name="path"/>, so a failure never leaves a partial file there.
    /// </summary>
    /// <exception cref="MixLoraException">A name is repeated or reserved, or a dtype has no safetensors equivalent.</exception>
    public static void Save(
        string path,
        IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        SafeTensorsWriter.Write(path, tensors, metadata ?? DefaultMetadata);
    }

    private static FileStream OpenForRead(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            // No managed buffering: tensor bytes are read in large blocks straight into native memory.
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidFileException(path, "file not found; expected a .safetensors file.", ex);
        }
    }

    private static List<SafeTensorInfo> Select(SafeTensorsHeader header, IEnumerable<string>? only)
    {
        if (only is null) return header.Tensors.ToList();

        var wanted = new HashSet<string>(only, StringComparer.Ordinal);
        var missing = wanted.Where(name => !header.Contains(name)).ToList();
        if (missing.Count > 0)
        {
            var examples = string.Join(", ", header.Tensors.Take(5).Select(t => $"'{t.Name}'"));
            throw new InvalidFileException(header.FilePath,
                $"no tensor named {string.Join(", ", missing.Select(n => $"'{n}'"))}; the file has " +
                $"{header.Tensors.Count} tensors (e.g. {examples}).");
        }
        return header.Tensors.Where(t => wanted.Contains(t.Name)).ToList();
    }

    private static torch.Tensor ReadTensor(
        SafeTensorsHeader header, FileStream file, SafeTensorInfo info, torch.ScalarType? convertTo)
    {
        string path = header.FilePath;
        var storedType = SafeTensorsDTypes.ToScalarType(info.DType)
            ?? throw new InvalidFileException(path,
                $"tensor '{info.Name}': dtype {info.DType} has no TorchSharp equivalent, so it cannot be loaded.");

        // BOOL is read as bytes first so that values other than 0 and 1 can be rejected before torch sees them.
        var readType = storedType == torch.ScalarType.Bool ? torch.ScalarType.Byte : storedType;
        // The header parser checked that these bytes lie inside the file, so this allocation is backed by data.
        var tensor = torch.empty(info.Shape, readType);
        file.Position = header.DataStart + info.Begin;
        try
        {
            TensorRawBytes.ReadInto(file, tensor);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidFileException(path,
                $"tensor '{info.Name}': the file ended inside its data (data_offsets [{info.Begin}, {info.End}]); truncated?", ex);
        }

        if (storedType == torch.ScalarType.Bool)
        {
            using var invalid = tensor.gt(1).any();
            if (invalid.item<bool>())
            {
                throw new InvalidFileException(path, $"tensor '{info.Name}': BOOL data holds bytes other than 0 and 1.");
            }
            tensor = ReplaceWith(tensor, tensor.to(torch.ScalarType.Bool));
        }
        if (convertTo is { } target && tensor.is_floating_point() && tensor.dtype != target)
        {
            // Widening F16/BF16 to F32 is exact; libtorch does it without a managed per-element loop.
            tensor = ReplaceWith(tensor, tensor.to(target));
        }
        return tensor;
    }

    /// <summary>Frees <paramref name="original"/> now rather than at the end of the load, to keep peak memory low.</summary>
    private static torch.Tensor ReplaceWith(torch.Tensor original, torch.Tensor replacement)
    {
        original.Dispose();
        return replacement;
    }
}
