using System.CommandLine;
using MixLora.Cli.Commands;
using Spectre.Console;

namespace MixLora.Cli;

/// <summary>The `mixlora` command line: parses arguments and calls the library. Holds no tensor code.</summary>
public static class CliApp
{
    /// <summary>Runs the CLI and returns the process exit code (0 ok, 1 user error, 2 usage error or unusable output location, 130 interrupted).</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, TextReader? input = null)
    {
        var console = new CliConsole(output ?? Console.Out, error ?? Console.Error);
        var root = new RootCommand("MixLora.NET: fine-tune, evaluate and run LLaMA-family models with MixLoRA (LoRA mixture-of-experts) adapters.")
        {
            GenerateCommand.Create(console),
            LogitsCommand.Create(console),
            InfoCommand.Create(console),
            ConvertCommand.Create(console),
            InitCommand.Create(console),
            TrainCommand.Create(console),
            EvaluateCommand.Create(console),
            ChatCommand.Create(console, input),
            ServeCommand.Create(console),
            MergeCommand.Create(console),
            ExportCommand.Create(console),
        };
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = console.Out, Error = console.Err, EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (IO.OutputLocationException e)
        {
            console.Error(e.Message);
            return 2;
        }
        catch (MixLoraException e)
        {
            console.Error(e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file system refused something (disk full, permissions changed mid-run): say what, without a stack trace.
            console.Error(e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            console.Error("interrupted");
            return 130;
        }
    }
}

/// <summary>Output channels of one CLI run (redirectable for tests).</summary>
public sealed class CliConsole
{
    public CliConsole(TextWriter output, TextWriter error)
    {
        Out = output;
        Err = error;
        Ansi = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
    }

    public TextWriter Out { get; }
    public TextWriter Err { get; }

    /// <summary>Spectre console over <see cref="Out"/> for tables.</summary>
    public IAnsiConsole Ansi { get; }

    /// <summary>One-line error message on stderr (no stack trace).</summary>
    public void Error(string message) => Err.WriteLine("error: " + message);

    public void Info(string message) => Err.WriteLine(message);
}
