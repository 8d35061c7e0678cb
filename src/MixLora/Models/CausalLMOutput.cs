using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Result of a decoder forward pass. <see cref="Logits"/>: [B, T, V] in fp32. <c>RouterLogitsByOwner</c>: for every
/// routed (MoE) block that ran, in layer order, its adapter and logits [rows*T, E]; empty for the plain base model.
/// </summary>
public sealed record CausalLMOutput(Tensor Logits, IReadOnlyList<OwnedRouterLogits> RouterLogitsByOwner)
    : RoutedOutput(RouterLogitsByOwner), IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        DisposeRouterLogits();
    }
}

/// <summary>
/// The decoder's final normed hidden states [B, T, H] (before the LM head) and, as in <see cref="CausalLMOutput"/>,
/// the router logits of every routed block that ran.
/// </summary>
public sealed record DecoderOutput(Tensor Hidden, IReadOnlyList<OwnedRouterLogits> RouterLogitsByOwner)
    : RoutedOutput(RouterLogitsByOwner), IDisposable
{
    public void Dispose()
    {
        Hidden.Dispose();
        DisposeRouterLogits();
    }
}

/// <summary>Router logits [rows*T, E] per routed block, in layer order, with the adapter that owns each.</summary>
public abstract record RoutedOutput(IReadOnlyList<OwnedRouterLogits> RouterLogitsByOwner)
{
    /// <summary>All router logits in layer order (with one MoE adapter: one [B*T, E] tensor per layer).</summary>
    public IReadOnlyList<Tensor> RouterLogits => RouterLogitsByOwner.Select(r => r.Logits).ToList();

    /// <summary>The router logits of one adapter's blocks, in layer order.</summary>
    public IReadOnlyList<Tensor> RouterLogitsOf(object owner) =>
        RouterLogitsByOwner.Where(r => ReferenceEquals(r.Owner, owner)).Select(r => r.Logits).ToList();

    protected void DisposeRouterLogits()
    {
        foreach (var r in RouterLogitsByOwner) r.Logits.Dispose();
    }
}
