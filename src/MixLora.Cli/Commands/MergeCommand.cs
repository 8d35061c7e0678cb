using System.CommandLine;
using MixLora.Adapters;
using MixLora.Export;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora merge`: an adapter folded into the base weights (MixLoRA: into a Mixtral model), written as a standalone HF folder.</summary>
public static class MergeCommand
{
    public static Command Create(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new Option<string>("--adapter", "-a") { Description = "The adapter folder: LoRA, rsLoRA or DoRA (folded into the base weights) or top-k MixLoRA on a llama/mistral base (written as a Mixtral MoE model).", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "New (or empty) folder for the merged Hugging Face model.", Required = true };
        var dtype = new Option<string>("--dtype")
        {
            Description = $"Data type of the written weights: {string.Join(", ", AdapterMerger.DTypes.Keys)} (float32 is exact; the merge itself is computed in float32).",
            DefaultValueFactory = _ => "float32",
        };
        var command = new Command("merge", "Fold an adapter into the base model and write a standalone Hugging Face model folder: LoRA/rsLoRA/DoRA keep the base architecture, a top-k MixLoRA adapter becomes an exactly equivalent Mixtral model.")
        {
            adapter, output, dtype,
        };
        // Not the common --dtype: here it names the stored type, and the model is always loaded in float32.
        foreach (var option in new Option[] { common.Model, common.Device, common.Threads, common.AllowNonFinite }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            OutputPath.CheckFolder(dir, "--output");
            using var model = PretrainedModel.Load(common.ModelDir(parse), common.RunOptions(parse) with { DType = "float32" });
            using var loaded = Adapter.Load(model.Model, parse.GetValue(adapter)!);
            AdapterMerger.Merge(model, loaded, dir, parse.GetValue(dtype)!);
            console.Info(loaded.Config.IsMixLora
                ? $"wrote the MixLoRA adapter as a Mixtral model ({loaded.Config.NumExperts} experts, top-{loaded.Config.EffectiveTopK}) to {dir}"
                : $"merged {loaded.Config.PeftType} adapter ({loaded.LinearDeltaCount} projections) into {dir}");
            return 0;
        });
        return command;
    }
}
