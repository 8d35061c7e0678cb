using System.Globalization;
using MixLora.Evaluation;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>The results table: one row per task (accuracy % of each target), then the average over tasks.</summary>
public static class EvaluationTable
{
    public static void Print(CliConsole console, EvaluationReport report)
    {
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("task");
        table.AddColumn(new TableColumn("n").RightAligned());
        foreach (var target in report.Targets) table.AddColumn(new TableColumn(Markup.Escape(target)).RightAligned());
        foreach (var task in report.Tasks)
        {
            var cells = new List<string> { Markup.Escape(task), report.Results.First(r => r.TaskName == task).Total.ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(report.Targets.Select(target => report.Find(target, task) is { } r ? Percent(r.Accuracy) : "-"));
            table.AddRow(cells.ToArray());
        }
        var average = new List<string> { "average", "" };
        average.AddRange(report.Targets.Select(target => Percent(report.AverageAccuracy(target))));
        table.AddRow(average.ToArray());
        console.Ansi.Write(table);
        var speed = report.Results.GroupBy(r => r.TaskName).Select(g => $"{g.Key} {g.First().ExamplesPerSecond:F1}");
        console.Info($"examples/s (per task, all targets together): {string.Join(", ", speed)}");
        var unanswered = report.Results.Where(r => r.Unanswered > 0).Select(r => $"{r.AdapterName}/{r.TaskName} {r.Unanswered}").ToList();
        if (unanswered.Count > 0) console.Info($"unanswered (no candidate word in the output, or an empty answer; counted wrong): {string.Join(", ", unanswered)}");
        if (report.Skipped.Count > 0) console.Info($"{report.Skipped.Count} malformed records were skipped (listed above)");
        foreach (var warning in report.Warnings) console.Info("note: " + warning);
    }

    private static string Percent(double accuracy) => (accuracy * 100).ToString("F1", CultureInfo.InvariantCulture);
}
