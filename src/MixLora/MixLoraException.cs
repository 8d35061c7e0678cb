namespace MixLora;

/// <summary>
/// A problem caused by the user's input (a file, a config key, an option), as opposed to a bug.
/// The CLI prints <see cref="Exception.Message"/> as one line and exits non-zero, without a stack trace.
/// Messages name the file, the key and what was expected.
/// </summary>
public class MixLoraException : Exception
{
    public MixLoraException(string message) : base(message) { }
    public MixLoraException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file that is malformed, truncated or not in the expected format.</summary>
public sealed class InvalidFileException : MixLoraException
{
    public string FilePath { get; }

    public InvalidFileException(string filePath, string problem)
        : base($"{filePath}: {problem}") => FilePath = filePath;

    public InvalidFileException(string filePath, string problem, Exception inner)
        : base($"{filePath}: {problem}", inner) => FilePath = filePath;
}
