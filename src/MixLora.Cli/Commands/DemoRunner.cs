using System.CommandLine;

namespace MixLora.Cli.Commands;

/// <summary>The built-in demo of `mixlora train` (no --config).</summary>
public static class DemoRunner
{
    public static int Run(CliConsole console, ParseResult parse, CommonOptions common, string? output, long seed)
    {
        console.Error("the built-in demo is not available yet; pass --config FILE (see `mixlora init --help`)");
        return 1;
    }
}
