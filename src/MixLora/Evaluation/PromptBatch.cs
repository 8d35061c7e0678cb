using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>
/// Token-id prompts of several targets stacked into one fused batch: target i owns rows [i·n, (i+1)·n) (spec §8.4
/// concatenates evaluation configs the same way). Built inside the caller's dispose scope.
/// </summary>
internal sealed class PromptBatch
{
    private PromptBatch(Tensor ids, Tensor? mask, Tensor lastPositions, IReadOnlyList<AdapterRows> rows, Tensor? positions)
    {
        Ids = ids;
        AttentionMask = mask;
        LastPositions = lastPositions;
        Rows = rows;
        Positions = positions;
    }

    /// <summary>[R, T] token ids, R = targets × prompts.</summary>
    public Tensor Ids { get; }

    /// <summary>[R, T], 1 = token, 0 = padding; null when no row is padded.</summary>
    public Tensor? AttentionMask { get; }

    /// <summary>[R]: index of each row's last prompt token.</summary>
    public Tensor LastPositions { get; }

    /// <summary>[R, T] rotary positions (left padding only: real tokens count from 0), else null.</summary>
    public Tensor? Positions { get; }

    public IReadOnlyList<AdapterRows> Rows { get; }

    /// <summary>Prompts padded on the right (the reference's layout): positions are the plain 0…T−1.</summary>
    public static PromptBatch RightPadded(IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<object> owners, int padId, Device device) =>
        Build(prompts, owners, padId, device, left: false);

    /// <summary>Prompts padded on the left, so every row's next token lands in the same column during generation.</summary>
    public static PromptBatch LeftPadded(IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<object> owners, int padId, Device device) =>
        Build(prompts, owners, padId, device, left: true);

    private static PromptBatch Build(IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<object> owners, int padId, Device device, bool left)
    {
        int n = prompts.Count, rowsCount = n * owners.Count;
        int length = prompts.Max(p => p.Count);
        var ids = new long[rowsCount * length];
        var mask = new long[rowsCount * length];
        var positions = new long[rowsCount * length];
        var last = new long[rowsCount];
        Array.Fill(ids, padId);
        for (int target = 0; target < owners.Count; target++)
        {
            for (int i = 0; i < n; i++)
            {
                int row = target * n + i;
                var prompt = prompts[i];
                int offset = left ? length - prompt.Count : 0;
                for (int t = 0; t < prompt.Count; t++)
                {
                    ids[row * length + offset + t] = prompt[t];
                    mask[row * length + offset + t] = 1;
                    positions[row * length + offset + t] = t;
                }
                last[row] = offset + prompt.Count - 1;
            }
        }
        bool padded = prompts.Any(p => p.Count != length);
        long[] shape = [rowsCount, length];
        var rows = owners.Select((owner, target) => new AdapterRows(owner, target * n, n)).ToList();
        return new PromptBatch(
            tensor(ids, shape, device: device),
            padded ? tensor(mask, shape, device: device) : null,
            tensor(last, device: device),
            rows,
            left && padded ? tensor(positions, shape, device: device) : null);
    }
}
