using TorchSharp;

namespace MixLora.IO;

/// <summary>Turns a (storage, offset, size, stride) record into a contiguous tensor that owns its memory.</summary>
internal static class StorageView
{
    /// <param name="storage">The whole storage as a 1-D tensor [numel]; the caller keeps and disposes it.</param>
    /// <param name="record">The tensor's view of the storage, already checked to lie inside it.</param>
    /// <param name="reuseStorage">No other tensor needs this storage, so a view covering all of it may keep it.</param>
    /// <param name="convertTo">Floating tensors are converted to this dtype when given.</param>
    public static torch.Tensor ToOwnedTensor(torch.Tensor storage, TensorRecord record, bool reuseStorage, torch.ScalarType? convertTo)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor result;
        if (reuseStorage && record.StorageOffset == 0 && ElementCount(record.Size) == storage.numel() && IsContiguous(record.Size, record.Stride))
        {
            // [numel] -> size: a view whose only other handle (the 1-D storage) is disposed by the caller.
            result = storage.reshape(record.Size);
        }
        else
        {
            result = torch.empty(record.Size, storage.dtype);
            result.copy_(storage.as_strided(record.Size, record.Stride, record.StorageOffset));
        }
        if (convertTo is { } target && IsFloating(result.dtype) && result.dtype != target)
        {
            result = result.to(target);
        }
        return result.MoveToOuterDisposeScope();
    }

    public static bool IsFloating(torch.ScalarType dtype) =>
        dtype is torch.ScalarType.Float32 or torch.ScalarType.Float64 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16;

    private static long ElementCount(long[] size) => size.Aggregate(1L, (product, n) => product * n);

    /// <summary>Row-major contiguous; dims of size 1 may carry any stride (as in torch).</summary>
    private static bool IsContiguous(long[] size, long[] stride)
    {
        long expected = 1;
        for (var d = size.Length - 1; d >= 0; d--)
        {
            if (size[d] != 1 && stride[d] != expected) return false;
            expected *= size[d];
        }
        return true;
    }
}
