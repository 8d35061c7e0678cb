using MixLora.Evaluation;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>Evaluation progress: a bar per task on a terminal, a line per finished task when output is redirected.</summary>
public sealed class EvaluationProgressView
{
    private readonly CliConsole _console;

    public EvaluationProgressView(CliConsole console) => _console = console;

    public EvaluationReport Run(bool interactive, IReadOnlyList<(string Task, int Examples)> tasks, Func<Action<string, int, int>, EvaluationReport> work)
    {
        if (!interactive)
        {
            return work((task, done, total) =>
            {
                if (done == total) _console.Info($"{task}: {total} examples done");
            });
        }
        EvaluationReport report = null!;
        _console.Ansi.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bars = tasks.ToDictionary(t => t.Task, t => ctx.AddTask(Markup.Escape(t.Task), maxValue: Math.Max(1, t.Examples)));
                report = work((task, done, _) => bars[task].Value = done);
            });
        return report;
    }
}
