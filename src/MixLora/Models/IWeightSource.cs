using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>Supplies named weights while a model is built (from a checkpoint, or random for tests and benchmarks).</summary>
public interface IWeightSource
{
    /// <summary>The tensor stored under <paramref name="name"/> with exactly <paramref name="shape"/>.</summary>
    Tensor Get(string name, long[] shape);

    /// <summary>Like <see cref="Get"/> but returns null when the checkpoint has no such tensor.</summary>
    Tensor? TryGet(string name, long[] shape);
}
