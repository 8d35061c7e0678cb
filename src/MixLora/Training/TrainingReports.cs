namespace MixLora.Training;

/// <summary>Receives progress from a training run (the CLI renders it as progress bars or log lines).</summary>
public interface ITrainingObserver
{
    void OnStart(IReadOnlyList<AdapterPlan> plans);
    void OnStep(StepReport report);
    void OnMessage(string message);
}

/// <summary>What a run will do for one adapter.</summary>
public sealed record AdapterPlan(string Name, int Examples, int MicroSteps, int OptimizerSteps, long TrainableParameters);

/// <summary>One micro-step of one adapter.</summary>
public sealed record StepReport(string Adapter, long MicroStep, int TotalMicroSteps, long OptimizerStep, int Epoch,
    double Loss, double? AuxLoss, double LearningRate, long Tokens, double TokensPerSecond, double ElapsedSeconds);

/// <summary>The outcome of a run for one adapter.</summary>
public sealed record AdapterResult(string Name, string Directory, long MicroSteps, double? FinalLoss, bool Completed, string? StoppedReason);

/// <summary>The outcome of a training run.</summary>
public sealed record TrainingResult(IReadOnlyList<AdapterResult> Adapters, bool Interrupted);
