using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Takes over a decoder layer's FFN slot (e.g. a MixLoRA mixture-of-experts block). It receives the frozen
/// <see cref="FeedForward"/> so that experts can share its weights.
/// </summary>
public interface IFeedForwardReplacement
{
    /// <summary>hidden: [B, T, H] (post-norm). Returns the FFN output [B, T, H] and optional router logits [B*T, E].</summary>
    FeedForwardOutput Forward(Tensor hidden, FeedForward baseFeedForward, DecoderContext context);
}

/// <summary>What an FFN slot returns: the output and, for routed blocks, the router logits of this layer.</summary>
public sealed record FeedForwardOutput(Tensor Hidden, Tensor? RouterLogits);
