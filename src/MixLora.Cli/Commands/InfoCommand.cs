using System.CommandLine;
using MixLora.IO;
using Spectre.Console;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora info`: describe a model folder.</summary>
public static class InfoCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var command = new Command("info", "Describe a model: family, sizes, parameter count, dtype and tokenizer.");
        common.AddTo(command);
        command.SetAction(parse =>
        {
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            var table = new Table().Title("Model " + Markup.Escape(model.Directory)).AddColumn("Property").AddColumn("Value");
            foreach (var (key, value) in model.Describe()) table.AddRow(Markup.Escape(key), Markup.Escape(value));
            console.Ansi.Write(table);
            return 0;
        });
        return command;
    }
}
