using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

/// <summary>Small helpers shared by the optimizer and checkpoint tests.</summary>
internal static class TrainingTensors
{
    public static Parameter Param(params float[] values) => new(tensor(values));

    public static Parameter Param(long[] shape, Generator generator) => new(randn(shape, generator: generator));

    /// <summary>Gives <paramref name="parameter"/> exactly <paramref name="grad"/> as its gradient.</summary>
    public static void SetGrad(Parameter parameter, Tensor grad)
    {
        using var noGrad = no_grad();
        parameter.grad = grad.detach().clone();
    }

    public static void SetGrad(Parameter parameter, params double[] values) =>
        SetGrad(parameter, tensor(values.Select(v => (float)v).ToArray()).reshape(parameter.shape));

    public static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).data<double>().ToArray();

    public static byte[] Bytes(Tensor t) => t.detach().contiguous().bytes.ToArray();
}
