using System.CommandLine;
using MixLora.Adapters;
using MixLora.Evaluation;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora evaluate`: accuracy of the base model and adapters on the commonsense benchmarks or on a task file of the user's own.</summary>
public static class EvaluateCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapterOptions = new AdapterOptionsCli();
        var dataOptions = new EvaluationDataCli();
        var adapters = new Option<string[]>("--adapter", "-a")
        {
            Description = "Adapter to evaluate, as NAME=DIR or DIR (name = folder name); repeat for several. All are scored in the same fused batches.",
            AllowMultipleArgumentsPerToken = false,
        };
        var protocol = new Option<string>("--protocol")
        {
            Description = "choice: the reference's rule, the candidate with the highest next-token logit after the answer cue; " +
                          "generate: greedy generation, then the first candidate answer word in the output (LLM-Adapters/DoRA).",
            DefaultValueFactory = _ => "choice",
        };
        var scoring = new Option<string>("--choice-scoring")
        {
            Description = "choice protocol: last-token (the reference: each candidate's last token id right after the cue) or sequence " +
                          "(the log-likelihood of the whole candidate; the same answer when candidates are single tokens, meaningful when they are not).",
            DefaultValueFactory = _ => "last-token",
        };
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Examples per batch (each target adds that many rows).", DefaultValueFactory = _ => 16 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N examples of each task." };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Results file (JSON list as the reference's evaluator writes); router-profile PNGs are saved next to it. " +
                          "- prints the JSON to standard output instead (no table, no plots).",
            DefaultValueFactory = _ => Path.Combine("runs", "evaluate", "results.json"),
        };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "generate protocol and exact metric: most tokens generated per example.", DefaultValueFactory = _ => 32 };
        var cutoff = new Option<int?>("--cutoff-len") { Description = "Longest prompt in tokens; longer prompts lose their beginning (the answer cue is kept). Default: the model's context." };
        var loraOnly = new Option<bool>("--lora-only") { Description = "Do not evaluate the base model (by default it is scored alongside the adapters)." };

        var command = new Command("evaluate", "Score the base model and adapters on the commonsense QA benchmarks (ARC-e/c, BoolQ, OBQA, PIQA, SIQA, HellaSwag, WinoGrande) or on a task file of your own.")
        {
            adapters, protocol, scoring, batchSize, limit, output, maxNew, cutoff, loraOnly,
        };
        foreach (var option in dataOptions.All) command.Options.Add(option);
        common.AddTo(command);
        command.Options.Add(adapterOptions.ExpertPath);
        command.Options.Add(adapterOptions.DropoutAtInference);
        command.SetAction(parse =>
        {
            var options = new EvaluationOptions
            {
                Protocol = EvaluationProtocols.Parse(parse.GetValue(protocol)!),
                ChoiceScoring = parse.GetValue(scoring) switch
                {
                    "last-token" => ChoiceScoring.LastToken,
                    "sequence" => ChoiceScoring.Sequence,
                    var other => throw new MixLoraException($"--choice-scoring \"{other}\" is not one of last-token, sequence"),
                },
                BatchSize = parse.GetValue(batchSize),
                Limit = parse.GetValue(limit),
                CutoffLen = parse.GetValue(cutoff),
                MaxNewTokens = parse.GetValue(maxNew),
            };
            options.Validate();
            var adapterSpecs = (parse.GetValue(adapters) ?? []).Select(ParseAdapter).ToList();
            if (adapterSpecs.Count == 0 && parse.GetValue(loraOnly))
                throw new MixLoraException("--lora-only needs at least one --adapter");
            var resultsPath = parse.GetValue(output)!;
            bool toStdout = OutputPath.IsStandardOutput(resultsPath);
            if (!toStdout) OutputPath.CheckFile(resultsPath, "--output");
            var (taskData, scoredWith) = dataOptions.Load(parse, options.ProtocolName, [protocol, scoring]);
            foreach (var skipped in taskData.SelectMany(t => t.Skipped)) console.Info($"skipped: {skipped}");

            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            var loaded = new List<Adapter>();
            try
            {
                foreach (var (_, dir) in adapterSpecs) loaded.Add(Adapter.Load(model.Model, dir, adapterOptions.Options(parse, model)));
                adapterOptions.RequireMixLoraForExpertPath(parse, loaded);
                var targets = new List<EvaluationTarget>();
                if (!parse.GetValue(loraOnly)) targets.Add(new EvaluationTarget(BaseName(model), null));
                targets.AddRange(adapterSpecs.Select((s, i) => new EvaluationTarget(s.Name, loaded[i])));
                console.Info($"evaluating {string.Join(", ", targets.Select(t => t.Name))} on {string.Join(", ", taskData.Select(t => $"{t.TaskKey} ({Count(t, options)})"))} " +
                             $"with {scoredWith}");
                var view = new EvaluationProgressView(console);
                var report = view.Run(!Console.IsOutputRedirected && ReferenceEquals(console.Out, Console.Out), taskData.Select(t => (t.TaskKey, Count(t, options))).ToList(),
                    progress => CommonsenseEvaluator.Run(model.Model, model.Tokenizer, targets, taskData, options with { Progress = progress }, model.StopIds));
                if (toStdout)
                {
                    // Standard output carries the JSON alone (no table, no plots), so it can be piped.
                    console.Out.Write(EvaluationResultsFile.ToJson(report) + "\n");
                    return 0;
                }
                EvaluationTable.Print(console, report);
                return SaveResults(console, Path.GetFullPath(resultsPath), report);
            }
            finally
            {
                foreach (var a in loaded) a.Dispose();
            }
        });
        return command;
    }

    /// <summary>
    /// Writes the results file and router plots. The location was checked before the evaluation, but if the write
    /// still fails (disk full, permissions changed) the finished results go to a fallback file instead of being lost.
    /// </summary>
    private static int SaveResults(CliConsole console, string path, EvaluationReport report)
    {
        try
        {
            EvaluationResultsFile.Write(path, report);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or MixLoraException)
        {
            var fallback = Path.Combine(Path.GetTempPath(), $"mixlora-results-{DateTime.Now:yyyyMMdd-HHmmss}-{Environment.ProcessId}.json");
            EvaluationResultsFile.Write(fallback, report);
            console.Error($"could not write {path} ({e.Message}); the results were saved to {fallback}");
            return 1;
        }
        var plots = RouterProfilePlots.Save(path, report);
        console.Info($"results: {path}" + (plots.Count > 0 ? $"; router profiles: {string.Join(", ", plots)}" : ""));
        return 0;
    }

    private static int Count(EvaluationTaskData task, EvaluationOptions options) =>
        options.Limit is int limit ? Math.Min(limit, task.Examples.Count) : task.Examples.Count;

    private static string BaseName(PretrainedModel model) => Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Directory));

    /// <summary>"name=dir" or "dir" (named after the folder).</summary>
    internal static (string Name, string Dir) ParseAdapter(string value)
    {
        int eq = value.IndexOf('=');
        if (eq > 0 && !Directory.Exists(value)) return (value[..eq], value[(eq + 1)..]);
        return (Path.GetFileName(Path.TrimEndingDirectorySeparator(value)), value);
    }
}
