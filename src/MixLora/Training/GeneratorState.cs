using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MixLora.Training;

/// <summary>Captures and restores torch random-generator states as bytes (exact: the whole Mersenne-Twister state).</summary>
public static class GeneratorState
{
    /// <summary>The state of <paramref name="generator"/>, or of torch's global default generator when null.</summary>
    public static byte[] Capture(Generator? generator = null)
    {
        using var state = generator is null ? get_rng_state() : generator.get_state();
        return state.bytes.ToArray();
    }

    /// <summary>Puts <paramref name="state"/> (from <see cref="Capture"/>) back into <paramref name="generator"/> or the global generator.</summary>
    /// <exception cref="MixLoraException">The bytes are not a state of this kind of generator.</exception>
    public static void Restore(byte[] state, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var tensorState = tensor(state, dtype: ScalarType.Byte);
        try
        {
            if (generator is null) set_rng_state(tensorState);
            else generator.set_state(tensorState);
        }
        catch (ExternalException ex)
        {
            throw new MixLoraException($"random-generator state of {state.Length} bytes was rejected by torch: {FirstLine(ex.Message)}", ex);
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
