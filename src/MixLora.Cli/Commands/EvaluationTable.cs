using System.Globalization;
using MixLora.Evaluation;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>The results table: one row per target, one column per task (accuracy %), then the average.</summary>
public static class EvaluationTable
{
    public static void Print(CliConsole console, EvaluationReport report)
    {
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("model / adapter");
        foreach (var task in report.Tasks)
        {
            var n = report.Results.First(r => r.TaskName == task).Total;
            table.AddColumn(new TableColumn($"{task} (n={n})").RightAligned());
        }
        table.AddColumn(new TableColumn("avg").RightAligned());
        foreach (var target in report.Targets)
        {
            var cells = new List<string> { Markup.Escape(target) };
            cells.AddRange(report.Tasks.Select(task => report.Find(target, task) is { } r ? Percent(r.Accuracy) : "-"));
            cells.Add(Percent(report.AverageAccuracy(target)));
            table.AddRow(cells.ToArray());
        }
        console.Ansi.Write(table);
        var speed = report.Results.GroupBy(r => r.TaskName).Select(g => $"{g.Key} {g.First().ExamplesPerSecond:F1}");
        console.Info($"examples/s (per task, all targets together): {string.Join(", ", speed)}");
        var unanswered = report.Results.Where(r => r.Unanswered > 0).Select(r => $"{r.AdapterName}/{r.TaskName} {r.Unanswered}").ToList();
        if (unanswered.Count > 0) console.Info($"outputs without a candidate answer (counted wrong): {string.Join(", ", unanswered)}");
        if (report.Skipped.Count > 0) console.Info($"{report.Skipped.Count} malformed records were skipped (listed above)");
        foreach (var warning in report.Warnings) console.Info("note: " + warning);
    }

    private static string Percent(double accuracy) => (accuracy * 100).ToString("F1", CultureInfo.InvariantCulture);
}
