using MixLora.Tensors;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Data;
using TorchSharp.Modules;

namespace MixLora.Training;

/// <summary>
/// One adapter being trained: its data (tokenised), the visiting order of the current epoch, cursor and epoch,
/// optimizer and schedule, and step counters. Micro-batches never span epochs; each epoch's order comes from
/// the order function given to the constructor (spec §6.2).
/// </summary>
public sealed class AdapterTask : IDisposable
{
    private readonly Func<int, int[]> _orderOfEpoch;

    public AdapterTask(AdapterTrainingConfig config, Adapter adapter, IReadOnlyList<TokenizedExample> examples, Func<int, int[]> orderOfEpoch, string directory)
    {
        Config = config;
        Adapter = adapter;
        Examples = examples;
        _orderOfEpoch = orderOfEpoch;
        Order = orderOfEpoch(1);
        Directory = directory;
        Statistics = adapter.Config.IsMixLora ? adapter.CollectRouterStatistics() : null;
        var named = adapter.NamedTensors.Select(kv => (kv.Key, (Parameter)kv.Value)).ToList();
        var groups = config.LoraPlusLrRatio > 1.0
            ? ParameterGroups.ForLoraPlus(named, config.Lr, config.LoraPlusLrRatio)
            : ParameterGroups.Single(named, config.Lr);
        Optimizer = config.Optim == "sgd"
            ? new Sgd(groups, momentum: config.Momentum, weightDecay: config.WeightDecay)
            : new AdamW(groups, weightDecay: config.WeightDecay);
        OptimizerSteps = config.TotalOptimizerSteps(examples.Count);
        Schedule = LrSchedule.Create(config.SchedulerType, (int)Math.Round(config.WarmupStepsFor(OptimizerSteps)), OptimizerSteps, config.Lr);
        TotalMicroSteps = config.TotalMicroSteps(examples.Count);
    }

    public AdapterTrainingConfig Config { get; }
    public Adapter Adapter { get; }

    /// <summary>Expert load collected over this process's training steps (MixLoRA only), for the heatmap.</summary>
    public RouterStatistics? Statistics { get; }
    public string Name => Config.Name;
    public IReadOnlyList<TokenizedExample> Examples { get; }
    public int[] Order { get; private set; }
    public string Directory { get; }
    public Optimizer Optimizer { get; }
    public LrSchedule Schedule { get; }
    public int OptimizerSteps { get; }
    public int TotalMicroSteps { get; }

    public int Epoch { get; private set; } = 1;
    public int Cursor { get; private set; }
    public long MicroStep { get; private set; }
    public long OptimizerStep { get; private set; }
    public double? LastLoss { get; set; }
    public string? StoppedReason { get; set; }

    /// <summary>All micro-steps of num_epochs (or max_steps) are taken, or training stopped on a non-finite value.</summary>
    public bool Done => MicroStep >= TotalMicroSteps || StoppedReason is not null;

    /// <summary>Length of the next micro-batch's longest example (the "optim" dispatcher balances on it).</summary>
    public int NextLength => NextIndices().Max(i => Examples[i].Length);

    /// <summary>Takes the next micro-batch and advances the cursor (and the epoch at the end of the data).</summary>
    public MicroBatch TakeMicroBatch()
    {
        var indices = NextIndices();
        Cursor += indices.Count;
        if (Cursor >= Order.Length)
        {
            Cursor = 0;
            Epoch++;
            Order = _orderOfEpoch(Epoch);
        }
        return new MicroBatch(Adapter, indices.Select(i => (IReadOnlyList<int>)Examples[i].InputIds).ToList(),
            indices.Select(i => (IReadOnlyList<int>)Examples[i].LabelMask).ToList());
    }

    private List<int> NextIndices()
    {
        int count = Math.Min(Config.EffectiveMicroBatchSize, Order.Length - Cursor);
        return Order.Skip(Cursor).Take(count).ToList();
    }

    /// <summary>Counts a finished micro-step; every <c>batch_size / micro_batch_size</c> of them is an optimizer step.</summary>
    public void AfterBackward()
    {
        MicroStep++;
        if (MicroStep % Config.AccumulationSteps == 0) OptimizerStepNow();
    }

    /// <summary>
    /// Applies accumulated gradients with the scheduled learning rate, then clears them. A NaN or infinite gradient is
    /// never applied: the adapter stops (<see cref="StoppedReason"/>) with the weights of its last good step.
    /// </summary>
    public void OptimizerStepNow()
    {
        if (Optimizer.FirstNonFiniteGradient() is { } bad)
        {
            StoppedReason = $"the gradient of {bad} became non-finite (NaN or infinite) at optimizer step {OptimizerStep + 1}; " +
                            "stopped before applying it, the last checkpoint is kept";
            Optimizer.ZeroGrad();
            return;
        }
        Optimizer.SetLearningRateScale(Schedule.Multiplier((int)OptimizerStep));
        Optimizer.Step();
        Optimizer.ZeroGrad();
        OptimizerStep++;
    }

    public double CurrentLearningRate => Config.Lr * Schedule.Multiplier((int)OptimizerStep);

    /// <summary>The resumable state (the optimizer's tensors are copies owned by the result).</summary>
    public TrainingState CaptureState()
    {
        var state = new TrainingState(Optimizer.CaptureState())
        {
            SchedulerStep = (int)OptimizerStep,
            MicroStep = MicroStep,
            OptimizerStep = OptimizerStep,
            Epoch = Epoch,
            DataCursor = Cursor,
            DataOrder = Order,
        };
        state.RandomStates["adapter"] = GeneratorState.Capture(Adapter.RandomGenerator);
        if (StoppedReason is not null) state.Extra["stopped"] = StoppedReason;
        if (LastLoss is double loss) state.Extra["last_loss"] = loss.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return state;
    }

    /// <summary>Restores what <see cref="CaptureState"/> saved.</summary>
    public void Restore(Checkpoint checkpoint)
    {
        checkpoint.CopyAdapterTensorsInto(Adapter.NamedTensors);
        checkpoint.RestoreOptimizer(Optimizer);
        var s = checkpoint.State;
        if (s.DataOrder.Length != Examples.Count)
            throw new MixLoraException($"{checkpoint.Directory}: the checkpoint's data order has {s.DataOrder.Length} examples but the data now has {Examples.Count}; the data changed since the run started");
        Order = s.DataOrder;
        Cursor = s.DataCursor;
        Epoch = s.Epoch;
        MicroStep = s.MicroStep;
        OptimizerStep = s.OptimizerStep;
        if (s.RandomStates.TryGetValue("adapter", out var rng)) GeneratorState.Restore(rng, Adapter.RandomGenerator);
        StoppedReason = s.Extra.GetValueOrDefault("stopped");
        if (s.Extra.TryGetValue("last_loss", out var loss)) LastLoss = double.Parse(loss, System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Adapter.Dispose();
    }
}
