using System.CommandLine;
using MixLora.Config;

namespace MixLora.Cli.Commands;

/// <summary>Options shared by the commands that load a model.</summary>
public sealed class CommonOptions
{
    /// <summary>The model bundled with the CLI (karpathy's stories260K, an HF-format copy).</summary>
    public static string BundledModelDir => Path.Combine(AppContext.BaseDirectory, "models", "stories260K");

    /// <summary>The bundled commonsense test sets (LLM-Adapters format, one folder per task).</summary>
    public static string BundledDataDir => Path.Combine(AppContext.BaseDirectory, "data", "commonsense");

    public Option<string?> Model { get; } = new("--model", "-m")
    {
        Description = "Hugging Face model folder (config.json, model.safetensors or pytorch_model.bin, tokenizer). Default: the bundled stories260K.",
    };

    public Option<string> Device { get; } = new("--device")
    {
        Description = "Compute device: cpu, cuda or cuda:N (CUDA needs a CUDA build of TorchSharp).",
        DefaultValueFactory = _ => "cpu",
    };

    public Option<string> DType { get; } = new("--dtype")
    {
        Description = "Compute dtype: float32 (default, fastest on CPU), bfloat16 or float16. Weights are converted while loading.",
        DefaultValueFactory = _ => "float32",
    };

    public Option<int?> Threads { get; } = new("--threads")
    {
        Description = "CPU threads for tensor operations (default: libtorch's choice).",
    };

    public Option<bool> AllowNonFinite { get; } = new("--allow-nonfinite")
    {
        Description = "Load model and adapter weights even when a tensor holds NaN or infinite values (refused by default).",
    };

    public IEnumerable<Option> All => [Model, Device, DType, Threads, AllowNonFinite];

    public string ModelDir(ParseResult parse) => parse.GetValue(Model) ?? BundledModelDir;

    public RunOptions RunOptions(ParseResult parse) => new()
    {
        Device = parse.GetValue(Device)!,
        DType = parse.GetValue(DType)!,
        Threads = parse.GetValue(Threads),
        AllowNonFinite = parse.GetValue(AllowNonFinite),
    };

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }
}
