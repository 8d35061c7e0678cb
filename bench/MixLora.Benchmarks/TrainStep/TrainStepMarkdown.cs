using System.Globalization;
using System.Text;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The console and .md summary of a sweep: one row per variant, then headline ratios and targets.</summary>
public static class TrainStepMarkdown
{
    public static string Render(TrainStepRun run)
    {
        var text = new StringBuilder();
        var o = run.Options;
        text.AppendLine(Invariant($"## train-step, shape {o.Shape.Name} ({o.Shape.Tokens} tokens/step), {o.Threads} threads, ") + Invariant(
            $"{o.Rounds} round(s) of {o.Warmup} warm-up + {o.Steps} steps"));
        text.AppendLine();
        text.AppendLine(Invariant($"commit {run.Commit}; GEMM peak {run.GemmStart:F1} GFLOP/s at start, {run.GemmEnd:F1} at end; ") + Invariant(
            $"load average {RunEnvironment.FormatLoad(run.LoadStart)} at start, {RunEnvironment.FormatLoad(run.LoadEnd)} at end"));
        text.AppendLine();
        text.Append(Table(run));
        text.AppendLine();
        text.AppendLine("MFU = model FLOPs / median step time / start-of-run GEMM peak; Δ RSS = peak RSS - RSS peak after model and adapter load " +
            "(the peer's measure: glibc's retained heap included); live act. = what one more step adds to RSS when glibc returns freed memory at once.");
        foreach (var warning in run.Warnings) text.AppendLine($"**WARNING: {warning}; the ours/peer ratios are not like for like.**");
        text.AppendLine();
        text.AppendLine("Headline ratios:");
        if (run.Headlines.Count == 0) text.AppendLine("- none: the variants they compare did not run");
        foreach (var (key, value) in run.Headlines) text.AppendLine(Invariant($"- {key}: {value:F3}"));
        text.AppendLine();
        text.AppendLine("Targets:");
        foreach (var target in run.Targets) text.AppendLine("- " + target.Describe());
        return text.ToString();
    }

    private static string Table(TrainStepRun run)
    {
        var peer = run.Peer;
        var vsPeer = run.VsPeer;
        string[] header = ["variant", "ms/step", "fwd ms", "bwd ms", "opt ms", "tok/s", "peak MiB", "Δ RSS MiB", "live act. MiB", "GFLOP", "MFU"];
        if (peer is not null) header = [.. header, "peer ms", "ours/peer latency", "peer Δ RSS MiB", "ours/peer Δ RSS"];
        var table = new MarkdownTable(header);
        foreach (var (variant, d) in run.Results)
        {
            string[] row =
            [
                variant, F(d.MsPerStep, 1), Phase(d, "forward"), Phase(d, "backward"), Phase(d, "optimizer"), F(d.TokensPerS, 0),
                F(d.PeakRssMiB, 1), F(d.DeltaRssMiB, 1), d.ActivationMiB is { } live ? F(live, 1) : "-", F(d.ModelGflop, 3), Invariant($"{d.Mfu * 100:F1}%"),
            ];
            if (peer is not null)
            {
                var theirs = peer.Results.GetValueOrDefault(variant);
                var ratios = vsPeer?.GetValueOrDefault(variant);
                row = [.. row, theirs is null ? "-" : F(theirs.MsPerStep, 1), Ratio(ratios, "latency"),
                    theirs is null ? "-" : F(theirs.DeltaRssMiB, 1), Ratio(ratios, "memory")];
            }
            table.Add(row);
        }
        return table.ToString();
    }

    private static string Phase(TrainStepDerived d, string phase) => d.PhaseMs.TryGetValue(phase, out var ms) ? F(ms, 1) : "-";

    private static string Ratio(Dictionary<string, double>? ratios, string key) =>
        ratios is not null && ratios.TryGetValue(key, out var r) ? F(r, 3) : "-";

    private static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
