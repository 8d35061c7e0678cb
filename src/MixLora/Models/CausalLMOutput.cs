using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Result of a decoder forward pass. <see cref="Logits"/>: [B, T, V] in fp32. <see cref="RouterLogits"/>: one
/// [B*T, E] tensor per routed (MoE) layer, in layer order; empty for the plain base model.
/// </summary>
public sealed record CausalLMOutput(Tensor Logits, IReadOnlyList<Tensor> RouterLogits) : IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        foreach (var r in RouterLogits) r.Dispose();
    }
}
