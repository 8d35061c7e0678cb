namespace MixLora.Models;

/// <summary>
/// The rows [Start, Start + Count) of a fused batch that belong to one adapter (m-LoRA's fused batches: every adapter's
/// micro-batch is a contiguous slice of the batch axis, and all adapters share one pass through the frozen base).
/// </summary>
/// <param name="Owner">The adapter (any object that its LoRA modules and MoE blocks were registered with).</param>
public sealed record AdapterRows(object Owner, int Start, int Count);
