using TorchSharp;

namespace MixLora.Tensors;

/// <summary>Run-time shape checks at module boundaries (kept in release builds, unlike Debug.Assert).</summary>
public static class Shape
{
    /// <summary>
    /// Checks that <paramref name="tensor"/> has one dimension per comma-separated name in <paramref name="dims"/>
    /// and that dimensions given as numbers (or bound by <paramref name="sizes"/>) match. Example: <c>Require(x, "B,T,H", ("H", 64))</c>.
    /// </summary>
    public static void Require(torch.Tensor tensor, string dims, params (string Name, long Size)[] sizes)
    {
        var names = dims.Split(',', StringSplitOptions.TrimEntries);
        if (tensor.dim() != names.Length)
            throw new ArgumentException($"expected a tensor of shape [{dims}], got [{string.Join(", ", tensor.shape)}]");
        for (int i = 0; i < names.Length; i++)
        {
            long? expected = long.TryParse(names[i], out var n) ? n : null;
            foreach (var (name, size) in sizes)
                if (name == names[i]) expected = size;
            if (expected is long e && tensor.shape[i] != e)
                throw new ArgumentException($"expected dimension {names[i]} = {e} in [{dims}], got [{string.Join(", ", tensor.shape)}]");
        }
    }

    /// <summary>Formats a shape as "[a, b, c]" for messages.</summary>
    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
