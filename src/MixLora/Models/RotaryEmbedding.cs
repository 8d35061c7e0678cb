using MixLora.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// Rotary position embedding in the "rotate-half" layout (HF LLaMA): x' = x·cos + rotate_half(x)·sin, where
/// rotate_half([x₁, x₂]) = [−x₂, x₁] over the two halves of the head. Supports llama3 and linear frequency scaling.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _invFreq; // [hd/2], fp32

    /// <summary>The rotation of the global layers (<paramref name="local"/> false) or of Gemma 3's local ones.</summary>
    public RotaryEmbedding(ModelConfig config, Device device, bool local = false)
    {
        var inv = local
            ? InverseFrequencies(config.HeadDim, config.LocalRopeBase, null)
            : InverseFrequencies(config.HeadDim, config.RopeBase, config.RopeScaling);
        _invFreq = torch.tensor(inv, dtype: ScalarType.Float32, device: device).DetachFromDisposeScope();
    }

    /// <summary>
    /// inv_freq_i = θ^(−2i/d), optionally rescaled as LLaMA 3.x does (long wavelengths divided by factor) or linearly
    /// (every frequency divided by factor: positions interpolated, as HF's "linear" type).
    /// </summary>
    public static float[] InverseFrequencies(int headDim, double theta, RopeScalingConfig? scaling)
    {
        var inv = new float[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            // fp32 as the reference computes it: 1 / theta^(2i/d) with the exponent formed in fp32.
            inv[i] = (float)(1.0 / Math.Pow(theta, (float)(2 * i) / headDim));
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

    /// <summary>cos and sin tables for the given positions: [T] or [B, T] -> [1 or B, 1, T, hd] (broadcast over heads).</summary>
    public (Tensor Cos, Tensor Sin) Tables(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var pos = positions.dim() == 1 ? positions.unsqueeze(0) : positions;         // [B?, T]
        var angles = pos.to(ScalarType.Float32).unsqueeze(-1) * _invFreq;           // [B, T, 1] * [hd/2] -> [B, T, hd/2]
        var emb = torch.cat([angles, angles], dim: -1).unsqueeze(1);               // [B, T, hd] -> [B, 1, T, hd]
        var cos = emb.cos().to(dtype);
        var sin = emb.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to x [B, heads, T, hd].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (Kernels.DecodeElementwise.TryRotary(x, cos, sin) is { } fast) return fast;         // one position per row
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = torch.cat([-x2, x1], dim: -1);                                // rotate_half(x)
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    public void Dispose() => _invFreq.Dispose();
}
