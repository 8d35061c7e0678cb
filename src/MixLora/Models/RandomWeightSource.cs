using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>Random weights (normal, std 0.02; norms = 1, biases small) for tests and benchmarks.</summary>
public sealed class RandomWeightSource : IWeightSource
{
    private readonly Generator _generator;

    public RandomWeightSource(long seed) => _generator = new Generator((ulong)seed);

    public Tensor Get(string name, long[] shape)
    {
        if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            return ones(shape) + normal(0, 0.1, shape, generator: _generator);
        return normal(0, name.EndsWith(".bias", StringComparison.Ordinal) ? 0.1 : 0.02, shape, generator: _generator);
    }

    public Tensor? TryGet(string name, long[] shape) => Get(name, shape);
}
