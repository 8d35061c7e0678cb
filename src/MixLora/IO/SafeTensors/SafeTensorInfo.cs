namespace MixLora.IO;

/// <summary>
/// One tensor entry of a safetensors header. <paramref name="Begin"/> and <paramref name="End"/> are byte offsets
/// relative to the start of the data buffer (see <see cref="SafeTensorsHeader.DataStart"/>), end exclusive.
/// </summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a 0-d tensor).</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, dim) => product * dim);

    /// <summary>Number of data bytes, <c>End - Begin</c>.</summary>
    public long ByteLength => End - Begin;

    /// <summary>The shape as text, e.g. <c>[512, 64]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
