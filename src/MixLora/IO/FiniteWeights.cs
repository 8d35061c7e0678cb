using static TorchSharp.torch;

namespace MixLora.IO;

/// <summary>
/// Refuses weights holding NaN or ±Inf: such a file is corrupt or the result of a diverged run, and loading it silently
/// would turn every output into NaN (or crash a sampler) far from the cause.
/// </summary>
public static class FiniteWeights
{
    /// <exception cref="InvalidFileException">A floating tensor holds a non-finite value; names the tensor and the count.</exception>
    public static void ThrowIfAnyNonFinite(IEnumerable<KeyValuePair<string, Tensor>> tensors, string origin)
    {
        foreach (var (name, tensor) in tensors)
        {
            if (!tensor.is_floating_point()) continue;
            using var scope = NewDisposeScope();
            var finite = isfinite(tensor);
            if (finite.all().item<bool>()) continue;
            long bad = finite.logical_not().sum().item<long>();
            throw new InvalidFileException(origin,
                $"tensor '{name}' holds {bad} NaN or infinite value(s) of {tensor.numel()}; the weights are corrupt " +
                "(pass --allow-nonfinite, or AllowNonFinite in the options, to load them anyway)");
        }
    }
}
