namespace MixLora.IO;

// The torch-specific meaning of REDUCE and BINPERSID, limited to the allow-listed callables.
internal sealed partial class RestrictedUnpickler
{
    private const int MaxRank = 64;

    private object ApplyReduce(object? callable, object? arguments)
    {
        if (callable is not PickleCallable known)
        {
            throw Fail($"REDUCE calls a {TypeName(callable)}, which is not allowed (only tensor state dicts are accepted)");
        }
        if (arguments is not PickleTuple tuple)
        {
            throw Fail($"REDUCE of {known.QualifiedName} has {TypeName(arguments)} arguments, expected a tuple");
        }
        var args = tuple.Items;
        switch (known.Kind)
        {
            case TorchCallable.OrderedDict:
                if (args.Length != 0) throw Fail("collections.OrderedDict is only accepted with no arguments");
                return new PickleDict();
            case TorchCallable.RebuildTensorV2:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (args.Length is not (6 or 7)) throw Fail($"_rebuild_tensor_v2 takes 6 or 7 arguments, got {args.Length}");
                if (args[0] is not StorageRecord storage) throw Fail($"_rebuild_tensor_v2 expects a storage, got {TypeName(args[0])}");
                if (args[1] is not long offset) throw Fail($"_rebuild_tensor_v2 expects an int storage offset, got {TypeName(args[1])}");
                var size = ReadShape(args[2], "size");
                var stride = ReadShape(args[3], "stride");
                if (size.Length != stride.Length) throw Fail($"tensor size has {size.Length} dims but its stride has {stride.Length}");
                if (args[4] is not bool) throw Fail($"_rebuild_tensor_v2 expects a bool requires_grad, got {TypeName(args[4])}");
                if (args[5] is not PickleDict) throw Fail($"_rebuild_tensor_v2 expects a dict of backward hooks, got {TypeName(args[5])}");
                if (args.Length == 7 && args[6] is not (null or PickleDict)) throw Fail("_rebuild_tensor_v2 metadata must be None or a dict");
                return new TensorRecord(storage, offset, size, stride);
            case TorchCallable.RebuildParameter:
                // (data, requires_grad, backward_hooks): a Parameter is just its tensor for us.
                if (args.Length != 3 || args[0] is not TensorRecord data || args[1] is not bool || args[2] is not PickleDict)
                {
                    throw Fail("_rebuild_parameter expects (tensor, bool, dict)");
                }
                return data;
            default:
                throw Fail($"REDUCE of {known.QualifiedName} is not allowed");
        }
    }

    private long[] ReadShape(object? value, string what)
    {
        if (value is not PickleTuple tuple) throw Fail($"tensor {what} must be a tuple of ints, got {TypeName(value)}");
        if (tuple.Items.Length > MaxRank) throw Fail($"tensor {what} has {tuple.Items.Length} dims (more than {MaxRank})");
        var shape = new long[tuple.Items.Length];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = tuple.Items[i] is long n && n >= 0
                ? n
                : throw Fail($"tensor {what} must hold non-negative ints, got {TypeName(tuple.Items[i])} {tuple.Items[i]}");
        }
        return shape;
    }

    /// <summary>BINPERSID: <c>('storage', storage type, key, location, numel)</c> → a storage checked against its zip entry.</summary>
    private StorageRecord ResolveStorage(object? persistentId)
    {
        if (persistentId is not PickleTuple { Items: ["storage", var typeValue, var keyValue, var locationValue, var countValue] })
        {
            throw Fail($"persistent id must be ('storage', type, key, location, numel), got {TypeName(persistentId)}");
        }
        if (typeValue is not TorchStorageType type) throw Fail($"persistent id storage type must be a torch storage class, got {TypeName(typeValue)}");
        if (keyValue is not string key) throw Fail($"persistent id storage key must be a string, got {TypeName(keyValue)}");
        if (locationValue is not string) throw Fail($"persistent id location must be a string, got {TypeName(locationValue)}");
        if (countValue is not long elementCount || elementCount < 0)
        {
            throw Fail($"storage '{key}' has an invalid element count {countValue}");
        }

        if (_storages.TryGetValue(key, out var known))
        {
            if (known.Type != type || known.ElementCount != elementCount)
            {
                throw Fail($"storage '{key}' is declared twice with different types or sizes");
            }
            return known;
        }

        var entry = _findStorageEntry(key) ?? throw Fail($"storage '{key}' has no zip entry data/{key}");
        var byteCount = elementCount > long.MaxValue / type.ElementSize ? long.MaxValue : elementCount * type.ElementSize;
        if (entry.Length < byteCount)
        {
            throw Fail($"storage '{key}' needs {elementCount} x {type.Name} = {byteCount} bytes but {entry.EntryName} holds only {entry.Length} bytes");
        }
        var storage = new StorageRecord(key, type, elementCount, entry.EntryName);
        _storages[key] = storage;
        return storage;
    }
}
