namespace MixLora.Benchmarks.TrainStep;

/// <summary>A worker process failed or printed no result; the parent stops (exit code 1) rather than report a partial sweep.</summary>
public sealed class WorkerFailedException(string message) : Exception(message)
{
    public const int ExitCode = 1;
}
