using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// Moves raw element bytes between a stream and the native memory of a contiguous CPU tensor, without a managed
/// copy. TorchSharp exposes that memory as a span of at most int.MaxValue bytes, so large tensors go in slices.
/// </summary>
internal static class TensorRawBytes
{
    /// <summary>Largest slice handed to a single span; well under int.MaxValue and a multiple of every element size.</summary>
    private const long MaxSliceBytes = 1L << 30;

    /// <summary>Fills <paramref name="tensor"/> (contiguous, CPU) from the stream's current position.</summary>
    public static void ReadInto(Stream stream, torch.Tensor tensor)
    {
        ForEachSlice(tensor, slice => stream.ReadExactly(slice.bytes));
    }

    /// <summary>Writes the bytes of <paramref name="tensor"/> (contiguous, CPU) at the stream's current position.</summary>
    public static void WriteFrom(Stream stream, torch.Tensor tensor)
    {
        ForEachSlice(tensor, slice => stream.Write(slice.bytes));
    }

    private static void ForEachSlice(torch.Tensor tensor, Action<torch.Tensor> action)
    {
        // The format is little-endian and tensor memory is in host order; copying raw bytes is only right on LE hosts.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors I/O needs a little-endian machine.");
        }
        long count = tensor.numel();
        if (count == 0) return; // An empty tensor has no bytes (and may have no data pointer).
        long elementSize = tensor.element_size();
        if (count * elementSize <= MaxSliceBytes)
        {
            action(tensor);
            return;
        }

        // [*shape] -> [numel]: a view of the same memory; narrow() views start at the right data pointer.
        using var flat = tensor.view(-1);
        long sliceElements = MaxSliceBytes / elementSize;
        for (long start = 0; start < count; start += sliceElements)
        {
            using var slice = flat.narrow(0, start, Math.Min(sliceElements, count - start));
            action(slice);
        }
    }
}
