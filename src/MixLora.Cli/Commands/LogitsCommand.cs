using System.CommandLine;
using MixLora.Generation;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora logits`: the interoperability probe. Writes the next-token logits at every position.</summary>
public static class LogitsCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new AdapterOptionsCli();
        var inputIds = new Option<string>("--input-ids") { Description = "Comma-separated token ids, e.g. \"1,403,407\".", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output .safetensors file; holds a float32 tensor \"logits\" of shape [T, vocab].", Required = true };
        var command = new Command("logits", "Write a model's (optionally adapted) next-token logits for given token ids to a safetensors file.") { inputIds, output };
        common.AddTo(command);
        adapter.AddTo(command);
        command.SetAction(parse =>
        {
            var ids = CliParsing.ParseIds(parse.GetValue(inputIds)!, "--input-ids");
            var path = parse.GetValue(output)!;
            if (OutputPath.IsStandardOutput(path))
                throw new OutputLocationException("--output -: logits are a binary safetensors file; give a file path");
            OutputPath.CheckFile(path, "--output");
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse));
            using var attached = adapter.Attach(parse, model);
            var shape = LogitsProbe.Write(model, ids, path);
            console.Info($"wrote logits [{string.Join(", ", shape)}] to {path}");
            return 0;
        });
        return command;
    }
}
