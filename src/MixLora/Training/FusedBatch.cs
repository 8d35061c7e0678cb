using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>One micro-batch of one adapter: token ids and label masks of its examples (unpadded).</summary>
public sealed record MicroBatch(object Owner, IReadOnlyList<IReadOnlyList<int>> Ids, IReadOnlyList<IReadOnlyList<int>> LabelMasks);

/// <summary>
/// Several adapters' micro-batches concatenated along the batch axis and right-padded to one length (m-LoRA's fused
/// batch, spec §6.2): each adapter owns a contiguous row range.
/// </summary>
public sealed class FusedBatch : IDisposable
{
    private FusedBatch(Tensor ids, Tensor attentionMask, Tensor labelMask, IReadOnlyList<AdapterRows> rows, long tokens)
    {
        Ids = ids;
        AttentionMask = attentionMask;
        LabelMask = labelMask;
        Rows = rows;
        RealTokens = tokens;
    }

    /// <summary>[ΣB, T] token ids (padding = <c>padId</c>).</summary>
    public Tensor Ids { get; }

    /// <summary>[ΣB, T]: 1 for real tokens, 0 for padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>[ΣB, T]: 1 where the token is a loss target (padding never is; prompts only with train_on_inputs).</summary>
    public Tensor LabelMask { get; }

    public IReadOnlyList<AdapterRows> Rows { get; }

    /// <summary>Real (non-padding) tokens in the batch.</summary>
    public long RealTokens { get; }

    public static FusedBatch Build(IReadOnlyList<MicroBatch> parts, int padId, Device device)
    {
        int length = parts.SelectMany(p => p.Ids).Max(s => s.Count);
        int rows = parts.Sum(p => p.Ids.Count);
        var ids = new long[rows * length];
        var mask = new long[rows * length];
        var labels = new long[rows * length];
        Array.Fill(ids, padId);
        var ranges = new List<AdapterRows>();
        int row = 0;
        long tokens = 0;
        foreach (var part in parts)
        {
            ranges.Add(new AdapterRows(part.Owner, row, part.Ids.Count));
            for (int i = 0; i < part.Ids.Count; i++, row++)
            {
                var sequence = part.Ids[i];
                for (int t = 0; t < sequence.Count; t++)
                {
                    ids[row * length + t] = sequence[t];
                    mask[row * length + t] = 1;
                    labels[row * length + t] = part.LabelMasks[i][t];
                }
                tokens += sequence.Count;
            }
        }
        long[] shape = [rows, length];
        return new FusedBatch(
            tensor(ids, shape, device: device).DetachFromDisposeScope(),
            tensor(mask, shape, device: device).DetachFromDisposeScope(),
            tensor(labels, shape, device: device).DetachFromDisposeScope(),
            ranges, tokens);
    }

    public void Dispose()
    {
        Ids.Dispose();
        AttentionMask.Dispose();
        LabelMask.Dispose();
    }
}
