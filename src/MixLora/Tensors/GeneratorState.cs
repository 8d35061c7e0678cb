using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MixLora.Tensors;

/// <summary>Captures and restores torch random-generator states as bytes (exact: the whole Mersenne-Twister state).</summary>
public static class GeneratorState
{
    // Layout of libtorch's CPUGeneratorImplState (5056 bytes): int64 seed, int32 left, int32 seeded, uint64 next,
    // 624 × uint64 state, ... . libtorch rejects a state whose size or these fields are off by throwing a C++
    // exception that TorchSharp does not catch (the process aborts), so they are checked here first.
    private const int CpuStateBytes = 5056;
    private const int MersenneStateN = 624;

    /// <summary>The state of <paramref name="generator"/>, or of torch's global default generator when null.</summary>
    public static byte[] Capture(Generator? generator = null)
    {
        using var state = generator is null ? get_rng_state() : generator.get_state();
        return state.bytes.ToArray();
    }

    /// <summary>
    /// Runs <paramref name="replay"/> with each generator rewound to its state in <paramref name="before"/> (captured
    /// earlier, in the same order), then puts every generator back where it was: a recomputation draws the random
    /// numbers of the original pass without disturbing what comes after it.
    /// </summary>
    /// <param name="generators">null stands for torch's global generator.</param>
    public static T Replay<T>(IReadOnlyList<Generator?> generators, IReadOnlyList<byte[]> before, Func<T> replay)
    {
        var now = generators.Select(Capture).ToList();
        try
        {
            for (int i = 0; i < generators.Count; i++) Restore(before[i], generators[i]);
            return replay();
        }
        finally
        {
            for (int i = 0; i < generators.Count; i++) Restore(now[i], generators[i]);
        }
    }

    /// <summary>Puts <paramref name="state"/> (from <see cref="Capture"/>) back into <paramref name="generator"/> or the global generator.</summary>
    /// <exception cref="MixLoraException">The bytes are not a state of this kind of generator.</exception>
    public static void Restore(byte[] state, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        Validate(state, expectedLength: Capture(generator).Length);
        using var tensorState = tensor(state, dtype: ScalarType.Byte);
        try
        {
            if (generator is null) set_rng_state(tensorState);
            else generator.set_state(tensorState);
        }
        catch (ExternalException ex)
        {
            throw new MixLoraException($"random-generator state rejected by torch: {ex.Message.Split('\n', 2)[0].Trim()}", ex);
        }
    }

    private static void Validate(byte[] state, int expectedLength)
    {
        if (state.Length != expectedLength)
            throw new MixLoraException($"random-generator state has {state.Length} bytes; this generator's state has {expectedLength}");
        if (state.Length != CpuStateBytes) return;
        int left = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8));
        int seeded = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(12));
        uint next = (uint)BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(16)); // torch keeps the low 32 bits
        if (seeded == 0 || left < 1 || left > MersenneStateN || next > MersenneStateN)
            throw new MixLoraException(
                $"random-generator state is not a valid Mersenne-Twister state (left={left}, seeded={seeded}, next={next})");
    }
}
