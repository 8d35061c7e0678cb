using TorchSharp;

namespace MixLora.IO;

// The only kinds of values the restricted unpickler ever builds. Python's None is null; ints are long,
// floats double, strings string, booleans bool. Nothing here can run code: globals are inert markers.

/// <summary>A Python tuple.</summary>
internal sealed record PickleTuple(object?[] Items);

/// <summary>A Python list (only reachable through EMPTY_LIST/APPEND(S); never part of a valid state dict).</summary>
internal sealed class PickleList
{
    public List<object?> Items { get; } = [];
}

/// <summary>A Python dict or OrderedDict: insertion-ordered, a repeated key replaces the value in place.</summary>
internal sealed class PickleDict
{
    // Allocated on first use: a hostile pickle may create many empty dicts, and each should cost little.
    private List<KeyValuePair<object, object?>>? _entries;
    private Dictionary<object, int>? _indexByKey;

    public IReadOnlyList<KeyValuePair<object, object?>> Entries => _entries ?? [];

    public void Set(object key, object? value)
    {
        _entries ??= [];
        _indexByKey ??= [];
        if (_indexByKey.TryGetValue(key, out var index))
        {
            _entries[index] = new(key, value);
        }
        else
        {
            _indexByKey[key] = _entries.Count;
            _entries.Add(new(key, value));
        }
    }
}

/// <summary>The callables REDUCE may apply; anything else is refused before it reaches the stack.</summary>
internal enum TorchCallable
{
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
}

/// <summary>An allowed callable global, e.g. <c>torch._utils._rebuild_tensor_v2</c>.</summary>
internal sealed record PickleCallable(TorchCallable Kind, string QualifiedName);

/// <summary>A typed storage class such as <c>torch.FloatStorage</c>: its element type and size in bytes.</summary>
internal sealed record TorchStorageType(string Name, torch.ScalarType DType, int ElementSize);

/// <summary>
/// A storage referenced by a persistent id <c>('storage', type, key, location, numel)</c>;
/// its bytes are the zip entry <c>&lt;archive&gt;/data/&lt;key&gt;</c>.
/// </summary>
internal sealed record StorageRecord(string Key, TorchStorageType Type, long ElementCount, string EntryName);

/// <summary>A tensor view of a storage, as <c>_rebuild_tensor_v2</c> describes it (no data read yet).</summary>
internal sealed record TensorRecord(StorageRecord Storage, long StorageOffset, long[] Size, long[] Stride);
