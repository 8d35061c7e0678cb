namespace MixLora.IO.Gguf;

/// <summary>
/// ggml's Q8_0 blocks: 32 values share one fp16 scale d = max|x| / 127 and store round(x / d) as int8 (34 bytes a
/// block). The rounding follows ggml's reference quantizer (C roundf: halves away from zero, scale inverted once) so
/// our blocks are byte-identical to llama.cpp's own.
/// </summary>
public static class Q8_0
{
    public const int BlockElements = 32;
    public const int BlockBytes = 2 + BlockElements;

    /// <summary>Blocks of <paramref name="values"/>, whose length must be a multiple of 32.</summary>
    public static byte[] Quantize(ReadOnlySpan<float> values)
    {
        if (values.Length % BlockElements != 0) throw new ArgumentException($"Q8_0 needs a multiple of {BlockElements} values, got {values.Length}", nameof(values));
        var blocks = new byte[values.Length / BlockElements * BlockBytes];
        for (int b = 0; b < values.Length / BlockElements; b++)
        {
            var block = values.Slice(b * BlockElements, BlockElements);
            float amax = 0;
            foreach (var x in block) amax = Math.Max(amax, Math.Abs(x));
            float d = amax / 127f;
            float inverse = d != 0 ? 1f / d : 0f;
            var output = blocks.AsSpan(b * BlockBytes, BlockBytes);
            BitConverter.TryWriteBytes(output, (Half)d);
            for (int i = 0; i < BlockElements; i++) output[2 + i] = unchecked((byte)(sbyte)MathF.Round(block[i] * inverse, MidpointRounding.AwayFromZero));
        }
        return blocks;
    }

    /// <summary>The values of Q8_0 <paramref name="blocks"/> (d · q, d read back as fp16).</summary>
    public static float[] Dequantize(ReadOnlySpan<byte> blocks)
    {
        if (blocks.Length % BlockBytes != 0) throw new ArgumentException($"Q8_0 data must be whole {BlockBytes}-byte blocks, got {blocks.Length} bytes", nameof(blocks));
        var values = new float[blocks.Length / BlockBytes * BlockElements];
        for (int b = 0; b < blocks.Length / BlockBytes; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float d = (float)BitConverter.ToHalf(block);
            for (int i = 0; i < BlockElements; i++) values[b * BlockElements + i] = d * (sbyte)block[2 + i];
        }
        return values;
    }
}
