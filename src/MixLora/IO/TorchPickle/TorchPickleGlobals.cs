using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// The allow-list of pickle globals for tensor state dicts, and the storage type names used by torch.save.
/// A global is looked up here by its two strings only; nothing is imported, resolved or instantiated.
/// </summary>
internal static class TorchPickleGlobals
{
    private static readonly TorchStorageType[] StorageTypes =
    [
        new("FloatStorage", torch.ScalarType.Float32, 4),
        new("DoubleStorage", torch.ScalarType.Float64, 8),
        new("HalfStorage", torch.ScalarType.Float16, 2),
        new("BFloat16Storage", torch.ScalarType.BFloat16, 2),
        new("LongStorage", torch.ScalarType.Int64, 8),
        new("IntStorage", torch.ScalarType.Int32, 4),
        new("ShortStorage", torch.ScalarType.Int16, 2),
        new("CharStorage", torch.ScalarType.Int8, 1),
        new("ByteStorage", torch.ScalarType.Byte, 1),
        new("BoolStorage", torch.ScalarType.Bool, 1),
    ];

    private static readonly Dictionary<(string Module, string Name), object> Allowed = BuildAllowed();

    private static Dictionary<(string, string), object> BuildAllowed()
    {
        var allowed = new Dictionary<(string, string), object>
        {
            [("collections", "OrderedDict")] = new PickleCallable(TorchCallable.OrderedDict, "collections.OrderedDict"),
            [("torch._utils", "_rebuild_tensor_v2")] =
                new PickleCallable(TorchCallable.RebuildTensorV2, "torch._utils._rebuild_tensor_v2"),
            [("torch._utils", "_rebuild_parameter")] =
                new PickleCallable(TorchCallable.RebuildParameter, "torch._utils._rebuild_parameter"),
        };
        foreach (var type in StorageTypes) allowed[("torch", type.Name)] = type;
        return allowed;
    }

    /// <summary>The inert marker for an allowed global, or null when the global is not allowed.</summary>
    public static object? Find(string module, string name) =>
        Allowed.TryGetValue((module, name), out var value) ? value : null;

    /// <summary>The storage type torch.save uses for a dtype, or null for dtypes we do not write.</summary>
    public static TorchStorageType? StorageTypeFor(torch.ScalarType dtype) =>
        Array.Find(StorageTypes, type => type.DType == dtype);
}
