using System.CommandLine;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora convert ...`: import checkpoints from other formats.</summary>
public static class ConvertCommand
{
    public static Command Create(CliConsole console)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "llama2.c checkpoint (.bin, legacy version-0 layout).", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "SentencePiece tokenizer.model that goes with the checkpoint.", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (Hugging Face layout).", Required = true };
        var llama2c = new Command("llama2c", "Convert a karpathy llama2.c checkpoint into a Hugging Face model folder.") { checkpoint, tokenizer, output };
        llama2c.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            OutputPath.CheckFolder(dir, "--output");
            var header = Llama2cConverter.Convert(parse.GetValue(checkpoint)!, parse.GetValue(tokenizer)!, dir);
            console.Info($"converted: dim {header.Dim}, {header.Layers} layers, {header.Heads} heads ({header.KvHeads} kv), vocab {header.VocabSize}, " +
                         $"{(header.SharedClassifier ? "tied" : "separate")} classifier -> {dir}");
            return 0;
        });
        var input = new Option<string>("--adapter") { Description = "Legacy m-LoRA (≤ 0.4) MixLoRA adapter folder (routing \"mixtral\"/\"switch\", w1_proj/w2_proj/w3_proj).", Required = true };
        var legacyOutput = new Option<string>("--output", "-o") { Description = "Output folder for the adapter in today's format.", Required = true };
        var legacy = new Command("legacy", "Convert a legacy m-LoRA MixLoRA adapter to today's official format.") { input, legacyOutput };
        legacy.SetAction(parse =>
        {
            var dir = parse.GetValue(legacyOutput)!;
            OutputPath.CheckFolder(dir, "--output");
            LegacyAdapterConverter.Convert(parse.GetValue(input)!, dir);
            console.Info($"converted legacy adapter -> {dir}");
            return 0;
        });
        return new Command("convert", "Convert checkpoints and adapters between formats.") { llama2c, legacy };
    }
}
