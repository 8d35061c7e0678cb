using System.Diagnostics;
using MixLora.Cli.Commands;

namespace MixLora.Tests.Cli;

/// <summary>The demo's "try it" line pastes into a shell as one command with the intended arguments.</summary>
public class DemoHintTests
{
    [Theory]
    [InlineData("runs/demo/demo")]
    [InlineData("/tmp/my runs/it's here")]
    public void TryItLinePastesIntoBashWithTheIntendedArguments(string adapterDir)
    {
        string line = DemoRunner.TryItCommand(adapterDir);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("mixlora generate ", line);
        if (!File.Exists("/bin/bash")) return;
        // bash parses the pasted arguments; printf echoes each one NUL-terminated.
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("printf '%s\\0' " + line["mixlora ".Length..]);
        using var bash = Process.Start(start)!;
        string output = bash.StandardOutput.ReadToEnd();
        bash.WaitForExit();
        Assert.Equal(0, bash.ExitCode);
        var args = output.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["generate", "--adapter", adapterDir, "--temperature", "0", "--max-new-tokens", "3", "--prompt", "Q: Say again: ball\nA:"], args);
    }
}
