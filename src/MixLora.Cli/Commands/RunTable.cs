using System.Globalization;
using MixLora.Training;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>The table `mixlora info RUNDIR` prints: the resume checkpoint and one row per adapter.</summary>
internal static class RunTable
{
    public static void Print(CliConsole console, RunSummary run)
    {
        var when = run.CheckpointTimeUtc is DateTime t ? t.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : null;
        var title = run.CheckpointStep is long step
            ? $"Run {run.Directory}: checkpoint after fused step {step}, written {when}" +
              (run.Adapters.All(a => a.Saved || a.Stopped is not null) ? "" : " (continue with train --resume)")
            : $"Run {run.Directory}: no checkpoint yet";
        var table = new Table().Title(Markup.Escape(title))
            .AddColumn("adapter").AddColumn("checkpoint micro-step").AddColumn("optimizer step").AddColumn("epoch")
            .AddColumn("loss").AddColumn("logged steps").AddColumn("state");
        foreach (var a in run.Adapters)
        {
            var state = a.Stopped is { } reason ? "stopped: " + reason : a.Saved ? "finished" : "in progress";
            table.AddRow(Markup.Escape(a.Name), Show(a.CheckpointMicroStep), Show(a.CheckpointOptimizerStep), Show(a.CheckpointEpoch),
                Show(a.CheckpointLoss ?? a.LastLoggedLoss), a.LoggedSteps.ToString(CultureInfo.InvariantCulture), Markup.Escape(state));
        }
        console.Ansi.Write(table);
    }

    private static string Show(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static string Show(double? value) => value?.ToString("F4", CultureInfo.InvariantCulture) ?? "-";
}
