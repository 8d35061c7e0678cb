using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// An adapter attached to a frozen <see cref="AdaptableLinear"/> (LoRA, DoRA, ...). The base model knows no adapter
/// types; adapters implement this to change a projection's output.
/// </summary>
public interface ILinearDelta
{
    /// <summary>Returns the adapted output given the projection's input [.., in] and its frozen output [.., out].</summary>
    Tensor Apply(Tensor input, Tensor baseOutput);
}
