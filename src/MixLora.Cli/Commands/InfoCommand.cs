using System.CommandLine;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using MixLora.IO.Gguf;
using MixLora.Training;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora info`: describe a model folder and, optionally, an adapter on it; or a training run folder.</summary>
public static class InfoCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new Option<string?>("--adapter", "-a") { Description = "Also describe this adapter folder (checked against the model)." };
        var families = new Option<bool>("--families") { Description = "List the model families (config.json model_type values) this build runs, and exit." };
        var path = new Argument<string?>("path")
        {
            Description = "A training run folder (the output of `mixlora train`): lists its checkpoint and adapters without loading " +
                          "any weights; or a .gguf file: its metadata and tensors, validated. A model folder here is the same as --model.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("info", "Describe a model (family, sizes, parameters, dtype, tokenizer), optionally an adapter, or a training run folder.")
        {
            path, adapter, families,
        };
        common.AddTo(command);
        command.SetAction(parse =>
        {
            if (parse.GetValue(families))
            {
                var table = new Table().Title("Supported model families").AddColumn("model_type").AddColumn("What it adds");
                foreach (var (type, features) in ModelFamilies.All) table.AddRow(Markup.Escape(type), Markup.Escape(features));
                console.Ansi.Write(table);
                return 0;
            }
            var target = parse.GetValue(path);
            if (target is not null && File.Exists(target) && target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                Print(console, "GGUF " + target, GgufDescription.Describe(GgufReader.ReadHeader(target)));
                return 0;
            }
            if (target is not null && RunSummary.IsRunFolder(target))
            {
                RunTable.Print(console, RunSummary.Read(target));
                return 0;
            }
            if (target is not null && !File.Exists(Path.Combine(target, HfModelFolder.ConfigFile)))
                throw new MixLoraException($"{target}: neither a model folder (no {HfModelFolder.ConfigFile}) nor a training run folder " +
                                           $"(no {RunCheckpoint.FolderName}/ and no <adapter>/{MetricsLog.FileName})");
            using var model = PretrainedModel.Load(target ?? common.ModelDir(parse), common.RunOptions(parse));
            Print(console, "Model " + model.Directory, model.Describe());
            if (parse.GetValue(adapter) is { } dir)
            {
                var (config, tensors) = AdapterFolder.Load(dir, model.Config); // validates names and shapes against the model
                foreach (var t in tensors.Values) t.Dispose();
                Print(console, "Adapter " + dir, AdapterDescription.Describe(config, model.Config, model.Model.ParameterCount()));
            }
            return 0;
        });
        return command;
    }

    private static void Print(CliConsole console, string title, IReadOnlyList<(string Key, string Value)> rows)
    {
        var table = new Table().Title(Markup.Escape(title)).AddColumn("Property").AddColumn("Value");
        foreach (var (key, value) in rows) table.AddRow(Markup.Escape(key), Markup.Escape(value));
        console.Ansi.Write(table);
    }
}
