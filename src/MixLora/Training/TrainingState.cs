namespace MixLora.Training;

/// <summary>
/// Everything one adapter's training needs to continue exactly where it stopped: optimizer state, schedule and
/// step counters, data position and order, random-generator states, and free-form fields of the training loop.
/// Owns <see cref="Optimizer"/> (dispose the state when done).
/// </summary>
public sealed class TrainingState : IDisposable
{
    public TrainingState(OptimizerState optimizer) => Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));

    /// <summary>A snapshot from <see cref="Training.Optimizer.CaptureState"/>.</summary>
    public OptimizerState Optimizer { get; }

    /// <summary>Scheduler steps taken (the argument of <see cref="LrSchedule.Multiplier"/> for the next step).</summary>
    public int SchedulerStep { get; set; }

    /// <summary>Micro-batches processed (the step numbering of checkpoints, spec §6.7).</summary>
    public long MicroStep { get; set; }

    /// <summary>Optimizer steps taken.</summary>
    public long OptimizerStep { get; set; }

    /// <summary>The current epoch (1-based in the reference).</summary>
    public int Epoch { get; set; }

    /// <summary>Index into <see cref="DataOrder"/> of the next example.</summary>
    public int DataCursor { get; set; }

    /// <summary>The order in which examples are visited (indices into the tokenized data set).</summary>
    public int[] DataOrder { get; set; } = [];

    /// <summary>Random-generator states by a name the loop chooses (see <see cref="Tensors.GeneratorState"/>); stored as bytes.</summary>
    public Dictionary<string, byte[]> RandomStates { get; } = new(StringComparer.Ordinal);

    /// <summary>The loop's own fields (for example a config fingerprint or the last logged loss), stored verbatim.</summary>
    public Dictionary<string, string> Extra { get; } = new(StringComparer.Ordinal);

    public void Dispose() => Optimizer.Dispose();
}
