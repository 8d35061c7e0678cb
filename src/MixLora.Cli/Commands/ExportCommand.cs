using System.CommandLine;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Export;
using MixLora.IO;

namespace MixLora.Cli.Commands;

/// <summary>`mixlora export gguf`: the model, with an adapter folded in when given, as a GGUF file for llama.cpp.</summary>
public static class ExportCommand
{
    public static Command Create(CliConsole console) => new("export", "Write the model (with a LoRA, rsLoRA or DoRA adapter folded in) for another runtime.")
    {
        Gguf(console),
    };

    private static Command Gguf(CliConsole console)
    {
        var common = new CommonOptions();
        var adapter = new Option<string?>("--adapter", "-a") { Description = "A LoRA, rsLoRA or DoRA adapter folder to fold into the base weights first." };
        var output = new Option<string>("--output", "-o") { Description = "The .gguf file to write (replaced atomically).", Required = true };
        var type = new Option<string>("--type")
        {
            Description = $"Tensor type: {string.Join(", ", GgufExporter.Types.Keys)} (norms and the MoE router stay f32; q8_0 rows that are not whole 32-value blocks are stored as f16).",
            DefaultValueFactory = _ => "f32",
        };
        type.AcceptOnlyFromAmong([.. GgufExporter.Types.Keys]);
        var command = new Command("gguf", "Write a GGUF v3 file in llama.cpp's architecture for the model's family: llama (llama, mistral, mixtral), qwen3, gemma, gemma2, gemma3, phi3 or phi2 (runs in llama.cpp, Ollama, LM Studio, LLamaSharp).")
        {
            adapter, output, type,
        };
        foreach (var option in new Option[] { common.Model, common.Threads, common.AllowNonFinite }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(output)!;
            OutputPath.CheckFile(path, "--output");
            // Always CPU float32: the merge and the stored tensors are computed from exact weights.
            var options = new RunOptions { Threads = parse.GetValue(common.Threads), AllowNonFinite = parse.GetValue(common.AllowNonFinite) };
            using var model = PretrainedModel.Load(common.ModelDir(parse), options);
            using var loaded = parse.GetValue(adapter) is { } adapterDir ? Adapter.Load(model.Model, adapterDir) : null;
            var summary = GgufExporter.Export(model, loaded, path, parse.GetValue(type)!);
            var types = string.Join(", ", summary.TensorsByType.Select(t => $"{t.Value} {t.Key}"));
            console.Info($"wrote {summary.Path}: {summary.TensorCount} tensors ({types}), {summary.Bytes / 1048576.0:F1} MiB");
            return 0;
        });
        return command;
    }
}
