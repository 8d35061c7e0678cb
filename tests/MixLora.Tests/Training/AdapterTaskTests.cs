using MixLora.Adapters;
using MixLora.Config;
using MixLora.Data;
using MixLora.Tests.Adapters;
using MixLora.Tests.Support;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

/// <summary>Run length (fractional epochs, max_steps), per-epoch order and the non-finite-gradient stop of one adapter's task.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class AdapterTaskTests
{
    // Example i is the token sequence [1, 100 + i]: a micro-batch's ids say which examples it holds.
    private static readonly IReadOnlyList<TokenizedExample> Examples =
        Enumerable.Range(0, 6).Select(i => new TokenizedExample([1, 100 + i], [0, 1])).ToList();

    private static AdapterTrainingConfig Training(double epochs = 1, int? maxSteps = null, int batch = 2, int micro = 1, bool shuffleEachEpoch = true) =>
        new() { Name = "a", Lr = 1e-3, BatchSize = batch, MicroBatchSize = micro, NumEpochs = epochs, MaxSteps = maxSteps, ShuffleEachEpoch = shuffleEachEpoch };

    private static AdapterTask Task(MixLora.Models.CausalLM model, AdapterTrainingConfig config)
    {
        var adapter = Adapter.Create(model, AdapterTests.Config("\"peft_type\": \"LORA\""), new AdapterOptions { Seed = 3 });
        var lengths = Examples.Select(e => e.Length).ToList();
        return new AdapterTask(config, adapter, Examples,
            epoch => DataOrder.ForEpoch(lengths, config.GroupByLength, config.ShuffleEachEpoch, 11, epoch), "unused");
    }

    /// <summary>Takes every micro-batch until the task is done, counting each as a finished micro-step; returns the example indices.</summary>
    private static List<int> Drain(AdapterTask task)
    {
        var visited = new List<int>();
        while (!task.Done)
        {
            visited.AddRange(task.TakeMicroBatch().Ids.Select(ids => ids[1] - 100));
            task.AfterBackward();
        }
        return visited;
    }

    [Fact]
    public void EveryEpochHasItsOwnShuffleUnlessTheReferenceOrderIsAskedFor()
    {
        using var model = Stories260K.LoadModel();
        using var reshuffled = Task(model, Training(epochs: 3));
        var visited = Drain(reshuffled);
        Assert.Equal(18, visited.Count);
        var epochs = visited.Chunk(6).Select(e => e.ToArray()).ToList();
        Assert.All(epochs, e => Assert.Equal(Enumerable.Range(0, 6), e.Order()));       // each epoch visits every example once
        Assert.Equal(DataOrder.Shuffled(6, 11), epochs[0]);                             // epoch 1: the reference's order
        Assert.True(epochs[0].SequenceEqual(epochs[1]) is false || epochs[1].SequenceEqual(epochs[2]) is false);
        Assert.Equal(3, reshuffled.Epoch - 1);

        using var reference = Task(model, Training(epochs: 3, shuffleEachEpoch: false));
        var same = Drain(reference).Chunk(6).ToList();
        Assert.All(same, e => Assert.Equal(epochs[0], e));
    }

    [Theory]
    [InlineData(1.5, null, 1, 9, 5)]   // 6 micro-batches per epoch × 1.5; the schedule: ceil(3 steps × 1.5)
    [InlineData(0.5, null, 1, 3, 2)]   // half an epoch
    [InlineData(1.0, 5, 1, 10, 5)]     // max_steps 5 × 2 accumulation: past the single epoch
    [InlineData(3.0, 2, 2, 2, 2)]      // max_steps cuts three epochs short (micro = batch)
    public void RunLengthFollowsNumEpochsOrMaxSteps(double epochs, int? maxSteps, int micro, int expectedMicroSteps, int expectedOptimizerSteps)
    {
        using var model = Stories260K.LoadModel();
        var config = Training(epochs, maxSteps, batch: 2, micro: micro);
        using var task = Task(model, config);
        Assert.Equal(expectedMicroSteps, task.TotalMicroSteps);
        Assert.Equal(expectedMicroSteps, Drain(task).Count / micro);
        Assert.Equal(expectedOptimizerSteps, task.OptimizerSteps);                      // what the schedule spans
        if (maxSteps is int steps) Assert.Equal(steps, task.OptimizerStep);
    }

    [Fact]
    public void NonFiniteGradientIsNeverAppliedAndStopsTheTask()
    {
        using var model = Stories260K.LoadModel();
        using var task = Task(model, Training(batch: 1));
        var (name, parameter) = task.Adapter.NamedTensors.First(kv => kv.Key.EndsWith("lora_B.weight"));
        var others = task.Adapter.NamedTensors.Where(kv => kv.Key != name).ToList();
        using var before = parameter.detach().clone();
        foreach (var (_, p) in task.Adapter.NamedTensors) p.grad = ones_like(p);
        parameter.grad![0, 0] = float.NaN;
        task.TakeMicroBatch();
        task.AfterBackward();                                                            // batch 1: an optimizer step

        Assert.Equal($"the gradient of {name} became non-finite (NaN or infinite) at optimizer step 1; stopped before applying it, the last checkpoint is kept",
            task.StoppedReason);
        Assert.True(task.Done);
        Assert.Equal(0, task.OptimizerStep);
        TensorAssert.Close(before, parameter, 0, "weights after the refused step");
        Assert.All(others, kv => Assert.Null(kv.Value.grad));                            // gradients dropped
    }
}
