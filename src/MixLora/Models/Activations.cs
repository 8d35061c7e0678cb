using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>The FFN activation functions named by <c>hidden_act</c> / <c>act_fn</c>.</summary>
public static class Activations
{
    public static readonly IReadOnlyList<string> Names = ["silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu"];

    public static bool IsSupported(string name) => Names.Contains(name);

    /// <summary>Returns the activation function for <paramref name="name"/>.</summary>
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "silu" or "swish" => x => nn.functional.silu(x),
        "gelu" => x => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => GeluTanh,
        "relu" => x => nn.functional.relu(x),
        _ => throw new MixLoraException($"activation \"{name}\" is not supported (supported: {string.Join(", ", Names)})"),
    };

    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): TorchSharp's gelu has no approximate= argument.
    private static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = (x + x.pow(3) * 0.044715) * Math.Sqrt(2.0 / Math.PI);
        return (x * 0.5 * (inner.tanh() + 1.0)).MoveToOuterDisposeScope();
    }
}
