using System.CommandLine;
using MixLora.IO;
using MixLora.Training;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>The built-in demo of `mixlora train` (no --config): train, measure before/after, show where results are.</summary>
public static class DemoRunner
{
    public static int Run(CliConsole console, ParseResult parse, CommonOptions common, string? output, long seed, int logEvery)
    {
        var runDir = output ?? Path.Combine("runs", "demo");
        OutputPath.CheckFolder(runDir, "--output");
        console.Info("Demo: fine-tuning a MixLoRA adapter (4 experts, top-2, r 8) on the bundled stories260K model with a small");
        console.Info("synthetic multi-task dataset (repeat a word, plurals, who/what questions), then scoring held-out examples.");
        using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        DemoReport report;
        try
        {
            var view = new TrainingProgressView(console, logEvery);
            report = view.Run(!Console.IsOutputRedirected && ReferenceEquals(console.Out, Console.Out),
                () => DemoTraining.Run(model, runDir, seed, view, cancel.Token));
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (report.Interrupted)
        {
            console.Info($"interrupted; the checkpoint is in {runDir}. Continue with: mixlora train --config {report.ConfigPath} --output {runDir} --resume");
            return 130;
        }
        var table = new Table().Title("Held-out examples: before and after fine-tuning")
            .AddColumn("task").AddColumn(new TableColumn("examples").RightAligned())
            .AddColumn(new TableColumn("answer loss before").RightAligned()).AddColumn(new TableColumn("after").RightAligned())
            .AddColumn(new TableColumn("accuracy before").RightAligned()).AddColumn(new TableColumn("after").RightAligned());
        foreach (var before in report.Before)
        {
            var after = report.After.Single(a => a.Group == before.Group);
            table.AddRow(Markup.Escape(before.Group), before.Count.ToString(), $"{before.Loss:F3}", $"{after.Loss:F3}",
                $"{before.Accuracy:P0}", $"{after.Accuracy:P0}");
        }
        double Mean(IReadOnlyList<MixLora.Evaluation.GroupScore> s, Func<MixLora.Evaluation.GroupScore, double> f) => s.Sum(x => f(x) * x.Count) / s.Sum(x => x.Count);
        table.AddRow("[bold]all[/]", report.Before.Sum(b => b.Count).ToString(), $"{Mean(report.Before, s => s.Loss):F3}", $"{Mean(report.After, s => s.Loss):F3}",
            $"{Mean(report.Before, s => s.Accuracy):P0}", $"{Mean(report.After, s => s.Accuracy):P0}");
        console.Ansi.Write(table);
        console.Out.WriteLine($"training took {report.TrainingTime.TotalSeconds:F0} s");
        console.Out.WriteLine($"adapter: {report.AdapterDir} (adapter_config.json, adapter_model.bin, metrics.jsonl)");
        foreach (var plot in report.Plots) console.Out.WriteLine($"plot:    {plot}");
        console.Out.WriteLine($"config:  {report.ConfigPath} (re-run or change it: mixlora train --config {report.ConfigPath})");
        console.Out.WriteLine($"try it:  {TryItCommand(report.AdapterDir)}");
        return 0;
    }

    /// <summary>
    /// A command line to paste into a POSIX shell: the prompt's newline is written as \n inside $'…' (a raw newline
    /// inside double quotes would split the pasted command), the folder single-quoted when it needs quoting.
    /// </summary>
    public static string TryItCommand(string adapterDir) =>
        $"mixlora generate --adapter {ShellWord(adapterDir)} --temperature 0 --max-new-tokens 3 --prompt $'Q: Say again: ball\\nA:'";

    private static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+:@%".Contains(c)) ? text : "'" + text.Replace("'", "'\\''") + "'";
}
