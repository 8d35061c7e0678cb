using MixLora.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Rotary position embedding in the "rotate-half" layout (HF LLaMA): x' = x·cos + rotate_half(x)·sin, where
/// rotate_half([x₁, x₂]) = [−x₂, x₁] over the two halves of the rotated dimensions: the whole head, or its leading
/// rotary_dim dimensions (Phi-3, Phi), the rest passing through. Supports llama3, linear and Phi-3's LongRoPE scaling.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _invFreq;       // [rd/2], fp32 (LongRoPE: the short factors')
    private readonly Tensor? _longInvFreq;  // LongRoPE: [rd/2] for sequences longer than the switch length
    private readonly int _switchLength;
    private readonly double _attentionFactor = 1;

    /// <summary>The rotation of the global layers (<paramref name="local"/> false) or of Gemma 3's local ones.</summary>
    public RotaryEmbedding(ModelConfig config, Device device, bool local = false)
    {
        int dim = config.RotaryDim;
        float[] inv;
        if (local) inv = InverseFrequencies(dim, config.LocalRopeBase, null);
        else if (config.RopeScaling is { EffectiveType: "longrope" } longRope)
        {
            inv = LongRopeFrequencies(dim, config.RopeBase, longRope.ShortFactor!);
            _longInvFreq = torch.tensor(LongRopeFrequencies(dim, config.RopeBase, longRope.LongFactor!), dtype: ScalarType.Float32, device: device)
                .DetachFromDisposeScope();
            _switchLength = config.LongRopeSwitchLength;
            _attentionFactor = config.LongRopeAttentionFactor!.Value;
        }
        else inv = InverseFrequencies(dim, config.RopeBase, config.RopeScaling);
        _invFreq = torch.tensor(inv, dtype: ScalarType.Float32, device: device).DetachFromDisposeScope();
    }

    /// <summary>LongRoPE: inv_freq_i = 1 / (factor_i · θ^(2i/d)).</summary>
    private static float[] LongRopeFrequencies(int dim, double theta, IReadOnlyList<double> factors) =>
        Enumerable.Range(0, dim / 2).Select(i => (float)(1.0 / ((float)factors[i] * Math.Pow(theta, (float)(2 * i) / dim)))).ToArray();

    /// <summary>
    /// inv_freq_i = θ^(−2i/d), optionally rescaled as LLaMA 3.x does (long wavelengths divided by factor) or linearly
    /// (every frequency divided by factor: positions interpolated, as HF's "linear" type).
    /// </summary>
    public static float[] InverseFrequencies(int dim, double theta, RopeScalingConfig? scaling)
    {
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            // fp32 as the reference computes it: 1 / theta^(2i/d) with the exponent formed in fp32.
            inv[i] = (float)(1.0 / Math.Pow(theta, (float)(2 * i) / dim));
        }
        if (scaling?.EffectiveType == "linear")
            for (int i = 0; i < inv.Length; i++) inv[i] = (float)(inv[i] / scaling.Factor);
        if (scaling?.EffectiveType == "llama3")
        {
            double lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
            double highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
            for (int i = 0; i < inv.Length; i++)
            {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowWavelen) inv[i] = (float)(inv[i] / scaling.Factor);
                else if (wavelen >= highWavelen)
                {
                    double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                                    / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    inv[i] = (float)((1 - smooth) * inv[i] / scaling.Factor + smooth * inv[i]);
                }
            }
        }
        return inv;
    }

    /// <summary>
    /// cos and sin tables for the given positions: [T] or [B, T] -> [1 or B, 1, T, rd] (broadcast over heads). LongRoPE
    /// uses its long factors for a row whose largest position + 1 exceeds the switch length, decided per forward as HF
    /// decides (so a cached sequence that grows past it keeps its earlier keys rotated with the short factors, as HF's
    /// does). HF takes the largest position of the whole batch; we take each row's, so that a sequence computes the
    /// same in any batch (a served request does not depend on the requests beside it).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Tables(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var pos = positions.dim() == 1 ? positions.unsqueeze(0) : positions;         // [B?, T]
        var inv = _invFreq;                                                          // [rd/2]
        if (_longInvFreq is not null)
        {
            var useLong = (pos.amax([-1L], keepdim: true) + 1).gt(_switchLength).unsqueeze(-1); // [B, T] -> [B, 1, 1]
            inv = where(useLong.to(_invFreq.device), _longInvFreq, _invFreq);        // -> [B, 1, rd/2]
        }
        if (inv.device != pos.device) inv = inv.to(pos.device);                      // the model moved after it was built
        var angles = pos.to(ScalarType.Float32).unsqueeze(-1) * inv;                // [B, T, 1] * [rd/2] -> [B, T, rd/2]
        var emb = torch.cat([angles, angles], dim: -1).unsqueeze(1);               // [B, T, rd] -> [B, 1, T, rd]
        var (cos, sin) = (emb.cos(), emb.sin());
        if (_attentionFactor != 1) (cos, sin) = (cos * _attentionFactor, sin * _attentionFactor);
        return (cos.to(dtype).MoveToOuterDisposeScope(), sin.to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to x [B, heads, T, hd]; tables narrower than hd rotate the leading dimensions only.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (Kernels.DecodeElementwise.TryRotary(x, cos, sin) is { } fast) return fast;         // one position per row
        using var scope = NewDisposeScope();
        long rd = cos.shape[^1], half = rd / 2;
        var rotary = rd == x.shape[^1] ? x : x.narrow(-1, 0, rd);                   // [B, nh, T, hd] -> [B, nh, T, rd]
        var x1 = rotary.narrow(-1, 0, half);
        var x2 = rotary.narrow(-1, half, half);
        var rotated = torch.cat([-x2, x1], dim: -1);                                // rotate_half(x)
        var result = rotary * cos + rotated * sin;
        if (rd < x.shape[^1]) result = torch.cat([result, x.narrow(-1, rd, x.shape[^1] - rd)], dim: -1); // -> [B, nh, T, hd]
        return result.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _invFreq.Dispose();
        _longInvFreq?.Dispose();
    }
}
