using MixLora.Cli;

namespace MixLora.Tests.Cli;

/// <summary>Runs the CLI in-process and captures its exit code, stdout and stderr.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args) => RunWithInput("", args);

    /// <summary>Runs with <paramref name="input"/> as standard input (for interactive commands such as chat).</summary>
    public static Result RunWithInput(string input, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error, new StringReader(input));
        return new Result(code, output.ToString(), error.ToString());
    }
}
