namespace MixLora.Benchmarks.Harness;

/// <summary>A bad command line or input file: reported as one error line with exit code 2, before anything is measured.</summary>
public sealed class UsageException(string message) : Exception(message)
{
    public const int ExitCode = 2;
}
