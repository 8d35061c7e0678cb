using MixLora.Benchmarks.Harness;
using MixLora.IO;

namespace MixLora.Benchmarks.Decode;

/// <summary>The decode case: inference speed of base, LoRA and MixLoRA in this process; JSON and markdown results.</summary>
public static class DecodeBenchmark
{
    public static int Run(string[] args)
    {
        DecodeOptions options;
        try
        {
            options = DecodeOptions.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return UsageException.ExitCode;
        }
        if (options.Help)
        {
            Console.WriteLine(DecodeOptions.Usage);
            return 0;
        }
        string output = Path.GetFullPath(options.Output ?? Path.Combine(RunEnvironment.RepoRoot(), "bench", "results", "decode-latest.json"));
        string markdown = Path.ChangeExtension(output, ".md");
        var run = DecodeSweep.Run(options);
        JsonFiles.WriteAtomic(output, DecodeReport.Build(run));
        string summary = DecodeReport.Markdown(run);
        AtomicFile.WriteAllText(markdown, summary);
        Console.WriteLine();
        Console.Write(summary);
        Console.WriteLine();
        Console.WriteLine($"wrote {output}, {markdown}");
        return 0;
    }
}
