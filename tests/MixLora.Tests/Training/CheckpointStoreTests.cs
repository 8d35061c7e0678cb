using MixLora.Tensors;
using MixLora.Tests.Support;
using MixLora.Training;
using TorchSharp;
using TorchSharp.Modules;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;
using AdamW = MixLora.Training.AdamW;

namespace MixLora.Tests.Training;

public class CheckpointStoreTests
{
    private static readonly (string Name, Parameter Parameter)[] Weights =
    [
        ("layers.0.q_proj.lora_A.weight", new Parameter(tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3))),
        ("layers.0.q_proj.lora_B.weight", new Parameter(tensor(new float[] { -1, 0.5f, 0.25f, 8, 9, 10 }).reshape(3, 2))),
    ];

    private static List<KeyValuePair<string, Tensor>> AdapterTensors() =>
        [.. Weights.Select(w => new KeyValuePair<string, Tensor>(w.Name, w.Parameter))];

    /// <summary>A state with every field set to something recognisable, from one real AdamW step.</summary>
    private static TrainingState SampleState(int marker = 7)
    {
        using var adamw = NewAdamW(Weights);
        using (NewDisposeScope()) SetGrad(Weights[0].Parameter, ones(2, 3) * marker); // only lora_A gets a gradient
        adamw.SetLearningRateScale(0.1 * marker);
        adamw.Step();
        adamw.ZeroGrad();
        var state = new TrainingState(adamw.CaptureState())
        {
            SchedulerStep = marker, MicroStep = 4L * marker, OptimizerStep = marker, Epoch = 2, DataCursor = 3,
            DataOrder = [5, 0, 4, 1, 3, 2],
        };
        state.RandomStates["dropout"] = GeneratorState.Capture(new Generator((ulong)marker));
        state.Extra["config_hash"] = "abc123";
        state.Extra["unicode"] = "é ✓ \"quoted\"";
        return state;
    }

    private static AdamW NewAdamW(IEnumerable<(string, Parameter)> weights) =>
        new(ParameterGroups.ForLoraPlus(weights, 1e-3, 16), weightDecay: 0.01);

    [Fact]
    public void Round_trip_restores_every_field_exactly()
    {
        using var temp = new TempDir();
        var dir = temp.File("ckpt");
        using var saved = SampleState();
        CheckpointStore.Save(dir, AdapterTensors(), saved, extra => File.WriteAllText(Path.Combine(extra, "adapter_config.json"), "{}"));

        Assert.True(CheckpointStore.Exists(dir));
        Assert.Equal(
            ["adapter_config.json", CheckpointStore.AdapterFileName, CheckpointStore.StateJsonFileName, CheckpointStore.StateTensorsFileName],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var loaded = CheckpointStore.Load(dir);
        var state = loaded.State;
        Assert.Equal((7, 28L, 7L, 2, 3), (state.SchedulerStep, state.MicroStep, state.OptimizerStep, state.Epoch, state.DataCursor));
        Assert.Equal(saved.DataOrder, state.DataOrder);
        Assert.Equal(saved.Extra, state.Extra);
        Assert.Equal(saved.RandomStates["dropout"], state.RandomStates["dropout"]);
        Assert.Equal(BitConverter.DoubleToInt64Bits(0.1 * 7), BitConverter.DoubleToInt64Bits(state.Optimizer.LearningRateScale));
        Assert.Equal(saved.Optimizer.Hyperparameters, state.Optimizer.Hyperparameters);
        Assert.Equal(16e-3, state.Optimizer.Hyperparameters["lr[B]"]);
        Assert.Equal([Weights[0].Name], state.Optimizer.Parameters.Keys);
        var moments = state.Optimizer.Parameters[Weights[0].Name];
        Assert.Equal(1, moments.Step);
        foreach (var key in new[] { AdamW.ExpAvg, AdamW.ExpAvgSq })
            Assert.Equal(Bytes(saved.Optimizer.Parameters[Weights[0].Name].Buffers[key]), Bytes(moments.Buffers[key]));
        foreach (var (name, parameter) in Weights)
            Assert.Equal(Bytes(parameter), Bytes(loaded.AdapterTensors[name]));

        // The restored optimizer continues from the saved scale and moments.
        using var adamw = NewAdamW(Weights);
        loaded.RestoreOptimizer(adamw);
        Assert.Equal(0.1 * 7, adamw.LearningRateScale);
        Assert.Equal(Bytes(moments.Buffers[AdamW.ExpAvg]), Bytes(adamw.StateOf(Weights[0].Name)!.Buffers[AdamW.ExpAvg]));
    }

    [Fact]
    public void Saving_again_replaces_the_checkpoint_and_leaves_no_temporary_folders()
    {
        using var temp = new TempDir();
        var dir = temp.File("ckpt");
        using (var first = SampleState(1)) CheckpointStore.Save(dir, AdapterTensors(), first);
        using (var second = SampleState(2)) CheckpointStore.Save(dir, AdapterTensors(), second);
        using var loaded = CheckpointStore.Load(dir);
        Assert.Equal(2, loaded.State.SchedulerStep);
        Assert.Equal(["ckpt"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_kill_between_the_two_renames_recovers_the_complete_new_checkpoint()
    {
        using var temp = new TempDir();
        var dir = temp.File("ckpt");
        using (var v1 = SampleState(1)) CheckpointStore.Save(dir, AdapterTensors(), v1);
        using (var v2 = SampleState(2)) CheckpointStore.Save(temp.File("elsewhere"), AdapterTensors(), v2);
        // The state Save leaves when killed after "ckpt → .ckpt.old" and before ".ckpt.partial → ckpt".
        Directory.Move(dir, temp.File(".ckpt.old"));
        Directory.Move(temp.File("elsewhere"), temp.File(".ckpt.partial"));

        Assert.True(CheckpointStore.Exists(dir));
        using var loaded = CheckpointStore.Load(dir);
        Assert.Equal(2, loaded.State.SchedulerStep);
        Assert.Equal(["ckpt"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_kill_while_writing_keeps_the_old_checkpoint()
    {
        using var temp = new TempDir();
        var dir = temp.File("ckpt");
        using (var v1 = SampleState(1)) CheckpointStore.Save(dir, AdapterTensors(), v1);
        var partial = temp.File(".ckpt.partial");
        Directory.CreateDirectory(partial);
        File.WriteAllBytes(Path.Combine(partial, CheckpointStore.AdapterFileName), [1, 2, 3]); // half-written, no manifest

        using (var loaded = CheckpointStore.Load(dir)) Assert.Equal(1, loaded.State.SchedulerStep);
        Assert.False(Directory.Exists(partial));

        // Killed during the very first save: there is no checkpoint at all.
        var fresh = temp.File("fresh");
        Directory.CreateDirectory(temp.File(".fresh.partial"));
        Assert.False(CheckpointStore.Exists(fresh));
        var error = Assert.Throws<InvalidFileException>(() => CheckpointStore.Load(fresh));
        Assert.Contains("no checkpoint", error.Message);
        Assert.False(Directory.Exists(temp.File(".fresh.partial")));
    }

    [Fact]
    public void A_kill_before_the_new_checkpoint_was_complete_restores_the_old_one()
    {
        using var temp = new TempDir();
        var dir = temp.File("ckpt");
        using (var v1 = SampleState(1)) CheckpointStore.Save(dir, AdapterTensors(), v1);
        Directory.Move(dir, temp.File(".ckpt.old"));
        Directory.CreateDirectory(temp.File(".ckpt.partial")); // no manifest: incomplete
        using var loaded = CheckpointStore.Load(dir);
        Assert.Equal(1, loaded.State.SchedulerStep);
    }

    [Fact]
    public void Refuses_to_replace_a_folder_that_is_not_a_checkpoint()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.File("notes.txt"), "precious");
        using var state = SampleState();
        var error = Assert.Throws<MixLoraException>(() => CheckpointStore.Save(temp.Path, AdapterTensors(), state));
        Assert.Contains("not a checkpoint", error.Message);
        Assert.True(File.Exists(temp.File("notes.txt")));
    }

    [Fact]
    public void Optimizer_state_for_a_tensor_that_is_not_saved_is_rejected()
    {
        using var temp = new TempDir();
        using var state = SampleState();
        var error = Assert.Throws<MixLoraException>(() => CheckpointStore.Save(temp.File("c"), AdapterTensors().Skip(1).ToList(), state));
        Assert.Contains(Weights[0].Name, error.Message);
        Assert.False(Directory.Exists(temp.File("c")));
    }
}
