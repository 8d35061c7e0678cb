using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>Builds boolean attention masks [B or 1, 1, T_q, T_kv] (true = may attend).</summary>
public static class AttentionMask
{
    /// <summary>
    /// Query i (cache position past + i) sees key j iff j ≤ past + i, key j is not padding (paddingMask[b, j] = 1) and,
    /// with a sliding window, past + i − j &lt; window. A query always sees itself, so rows made only of padding
    /// stay finite (their outputs are ignored).
    /// </summary>
    /// <param name="paddingMask">[B, past + T] with 1 for real tokens and 0 for padding, or null.</param>
    public static Tensor Build(int past, int queryLength, Tensor? paddingMask, int? window, Device device)
    {
        using var scope = NewDisposeScope();
        int kvLength = past + queryLength;
        var queryPos = arange(past, kvLength, dtype: ScalarType.Int64, device: device).unsqueeze(1); // [T_q, 1]
        var keyPos = arange(0, kvLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);      // [1, T_kv]
        var visible = keyPos.le(queryPos);                                                          // [T_q, T_kv]
        if (window is int w) visible = visible.logical_and((queryPos - keyPos).lt(w));
        var mask = visible.unsqueeze(0).unsqueeze(0);                                               // [1, 1, T_q, T_kv]
        if (paddingMask is not null)
        {
            if (paddingMask.dim() != 2 || paddingMask.shape[1] != kvLength)
                throw new ArgumentException($"attention mask must be [B, {kvLength}] (past + new tokens), got [{string.Join(", ", paddingMask.shape)}]");
            var keyIsReal = paddingMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1);               // [B, T_kv] -> [B, 1, 1, T_kv]
            mask = mask.logical_and(keyIsReal);                                                     // [B, 1, T_q, T_kv]
        }
        var self = keyPos.eq(queryPos).unsqueeze(0).unsqueeze(0);                                  // [1, 1, T_q, T_kv]
        return mask.logical_or(self).MoveToOuterDisposeScope();
    }
}
