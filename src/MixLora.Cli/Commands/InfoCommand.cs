using System.CommandLine;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora info`: describe a model folder and, optionally, an adapter on it.</summary>
public static class InfoCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new Option<string?>("--adapter", "-a") { Description = "Also describe this adapter folder (checked against the model)." };
        var command = new Command("info", "Describe a model (family, sizes, parameters, dtype, tokenizer) and optionally an adapter.") { adapter };
        common.AddTo(command);
        command.SetAction(parse =>
        {
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
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
