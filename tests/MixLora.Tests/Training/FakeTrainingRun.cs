using MixLora.Tensors;
using MixLora.Training;
using AdamW = MixLora.Training.AdamW;
using TorchSharp;
using TorchSharp.Modules;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

/// <summary>
/// A training loop without a model: "gradients" are drawn from a seeded generator each step, the learning rate follows
/// a cosine schedule. One parameter never gets a gradient and one only from step 6 on, so state that is absent at save
/// time and created after a resume is exercised too.
/// </summary>
internal sealed class FakeTrainingRun : IDisposable
{
    public const int TotalSteps = 10;
    public const string LateName = "base_model.model.model.layers.0.mlp.moe_gate.weight";
    public const string NeverName = "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight";

    private FakeTrainingRun(string kind, long initSeed, long gradientSeed)
    {
        var init = new Generator((ulong)initSeed);
        Parameters =
        [
            ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", Param([4, 6], init)),
            ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", Param([6, 4], init)),
            (LateName, Param([3, 6], init)),
            (NeverName, Param([4, 6], init)),
        ];
        var groups = ParameterGroups.ForLoraPlus(Parameters, 1e-2, 4);
        Optimizer = kind == "adamw" ? new AdamW(groups, weightDecay: 0.01) : new Sgd(groups, momentum: 0.9, weightDecay: 0.01);
        Schedule = LrSchedule.Create("cosine", warmupSteps: 2, totalSteps: TotalSteps);
        Gradients = new Generator((ulong)gradientSeed);
    }

    public List<(string Name, Parameter Parameter)> Parameters { get; }
    public Optimizer Optimizer { get; }
    public LrSchedule Schedule { get; }
    public Generator Gradients { get; private set; }
    public int Step { get; private set; }

    public static FakeTrainingRun Start(string kind) => new(kind, initSeed: 11, gradientSeed: 123);

    /// <summary>A "new process": other initial weights and generator seed, then everything restored from <paramref name="dir"/>.</summary>
    public static FakeTrainingRun Resume(string kind, string dir, bool restoreOptimizer = true)
    {
        var run = new FakeTrainingRun(kind, initSeed: 99, gradientSeed: 99);
        using var checkpoint = CheckpointStore.Load(dir);
        checkpoint.CopyAdapterTensorsInto(run.Parameters.Select(p => new KeyValuePair<string, Parameter>(p.Name, p.Parameter)));
        if (restoreOptimizer) checkpoint.RestoreOptimizer(run.Optimizer);
        GeneratorState.Restore(checkpoint.State.RandomStates["gradients"], run.Gradients);
        run.Step = checkpoint.State.SchedulerStep;
        return run;
    }

    public void RunTo(int step, string? saveDir = null, int saveAt = -1)
    {
        while (Step < step)
        {
            Optimizer.SetLearningRateScale(Schedule.Multiplier(Step));
            using (NewDisposeScope())
            {
                foreach (var (name, parameter) in Parameters)
                {
                    if (name == NeverName || (name == LateName && Step < 6)) continue;
                    SetGrad(parameter, randn(parameter.shape, generator: Gradients));
                }
            }
            Optimizer.Step();
            Optimizer.ZeroGrad();
            Step++;
            if (Step == saveAt) Save(saveDir!);
        }
    }

    public void Save(string dir)
    {
        using var state = new TrainingState(Optimizer.CaptureState())
        {
            SchedulerStep = Step, OptimizerStep = Step, MicroStep = 2L * Step, Epoch = 1 + Step / 5, DataCursor = Step % 5,
            DataOrder = [4, 2, 0, 3, 1],
        };
        state.RandomStates["gradients"] = GeneratorState.Capture(Gradients);
        state.Extra["note"] = $"saved at step {Step}";
        CheckpointStore.Save(dir, [.. Parameters.Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Parameter))], state);
    }

    /// <summary>Every byte that must survive a resume: weights, optimizer buffers and step counts, generator state.</summary>
    public SortedDictionary<string, byte[]> Fingerprint()
    {
        var result = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (name, parameter) in Parameters)
        {
            result[name] = Bytes(parameter);
            if (Optimizer.StateOf(name) is not { } state) continue;
            result[name + "#step"] = BitConverter.GetBytes(state.Step);
            foreach (var (key, buffer) in state.Buffers) result[$"{name}.{key}"] = Bytes(buffer);
        }
        result["#generator"] = GeneratorState.Capture(Gradients);
        result["#lr_scale"] = BitConverter.GetBytes(Optimizer.LearningRateScale);
        return result;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (var (_, parameter) in Parameters) parameter.Dispose();
        Gradients.Dispose();
    }
}
