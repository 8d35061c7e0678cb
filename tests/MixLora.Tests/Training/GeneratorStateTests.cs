using MixLora.Tensors;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

public class GeneratorStateTests
{
    [Fact]
    public void Restoring_a_generator_replays_its_sequence()
    {
        using var generator = new Generator(42);
        using (rand(17, generator: generator)) { }
        var state = GeneratorState.Capture(generator);
        using var first = rand(64, generator: generator);

        using var other = new Generator(7);
        GeneratorState.Restore(state, other);
        using var replay = rand(64, generator: other);
        Assert.Equal(TrainingTensors.Bytes(first), TrainingTensors.Bytes(replay));
        Assert.Equal(GeneratorState.Capture(generator), GeneratorState.Capture(other));
    }

    [Fact]
    public void Bytes_that_are_not_a_generator_state_are_rejected()
    {
        using var generator = new Generator(1);
        Assert.Contains("3 bytes", Assert.Throws<MixLoraException>(() => GeneratorState.Restore([1, 2, 3], generator)).Message);

        // Right size, impossible content (libtorch would abort the process on these; they must be caught first).
        var state = GeneratorState.Capture(generator);
        foreach (var (offset, value) in new[] { (8, 0), (8, 625), (12, 0), (16, 625) })
        {
            var bad = state.ToArray();
            BitConverter.GetBytes(value).CopyTo(bad, offset);
            Assert.Throws<MixLoraException>(() => GeneratorState.Restore(bad, generator));
        }
        Assert.Equal(state, GeneratorState.Capture(generator)); // untouched by the failed restores
    }
}

/// <summary>Tests of torch's global generator, which other tests also draw from: run alone.</summary>
[CollectionDefinition(nameof(GlobalGeneratorCollection), DisableParallelization = true)]
public class GlobalGeneratorCollection;

[Collection(nameof(GlobalGeneratorCollection))]
public class GlobalGeneratorStateTests
{
    [Fact]
    public void Restoring_the_global_generator_replays_its_sequence()
    {
        manual_seed(3);
        var state = GeneratorState.Capture();
        using var first = rand(32);
        manual_seed(4);
        GeneratorState.Restore(state);
        using var replay = rand(32);
        Assert.Equal(TrainingTensors.Bytes(first), TrainingTensors.Bytes(replay));
    }
}
