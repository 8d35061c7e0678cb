using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Result of a decoder forward pass. <see cref="Logits"/>: [B, T, V] in fp32. <see cref="RouterLogitsByOwner"/>: for every
/// routed (MoE) block that ran, in layer order, its adapter and logits [rows*T, E]; empty for the plain base model.
/// </summary>
public sealed record CausalLMOutput(Tensor Logits, IReadOnlyList<OwnedRouterLogits> RouterLogitsByOwner) : IDisposable
{
    /// <summary>All router logits in layer order (with one MoE adapter: one [B*T, E] tensor per layer).</summary>
    public IReadOnlyList<Tensor> RouterLogits => RouterLogitsByOwner.Select(r => r.Logits).ToList();

    /// <summary>The router logits of one adapter's blocks, in layer order.</summary>
    public IReadOnlyList<Tensor> RouterLogitsOf(object owner) =>
        RouterLogitsByOwner.Where(r => ReferenceEquals(r.Owner, owner)).Select(r => r.Logits).ToList();

    public void Dispose()
    {
        Logits.Dispose();
        foreach (var r in RouterLogitsByOwner) r.Logits.Dispose();
    }
}
