using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// An adapter attached to a frozen <see cref="AdaptableLinear"/> (LoRA, DoRA, ...). The base model knows no adapter
/// types; adapters implement this to change a projection's output.
/// </summary>
public interface ILinearDelta
{
    /// <summary>
    /// Returns the adapted output given the projection's input [B, .., in] and its frozen output [B, .., out]. When the
    /// context assigns batch rows to adapters (<see cref="DecoderContext.Rows"/>), only the delta's own rows change.
    /// </summary>
    Tensor Apply(Tensor input, Tensor baseOutput, DecoderContext? context);
}
