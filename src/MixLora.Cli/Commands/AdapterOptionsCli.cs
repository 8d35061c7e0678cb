using System.CommandLine;
using MixLora.Adapters;

namespace MixLora.Cli.Commands;

/// <summary>Options of the commands that can apply an adapter on top of the base model.</summary>
public sealed class AdapterOptionsCli
{
    public Option<string?> Adapter { get; } = new("--adapter", "-a")
    {
        Description = "Adapter folder (adapter_config.json + adapter_model.safetensors or adapter_model.bin) to apply on the base model.",
    };

    public Option<string> ExpertPath { get; } = new("--expert-path")
    {
        Description = "MixLoRA expert computation: auto (fastest correct), vanilla (each expert runs the whole FFN), " +
                      "shared (frozen W1/W3 once for all experts) or fused (also frozen W2 once). All give the same numbers.",
        DefaultValueFactory = _ => "auto",
    };

    public Option<bool> DropoutAtInference { get; } = new("--lora-dropout-at-inference")
    {
        Description = "Reference compatibility: keep LoRA dropout active outside training (the official code does; off by default).",
    };

    public Option<bool> MergeLora { get; } = new("--merge-lora")
    {
        Description = "Fold the adapter's LoRA projections (all of a LoRA/DoRA adapter, the attention ones of a MixLoRA adapter) " +
                      "into the base weights at load: faster decoding, the same outputs within float32 rounding (1e-5).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Adapter);
        command.Options.Add(ExpertPath);
        command.Options.Add(DropoutAtInference);
        command.Options.Add(MergeLora);
    }

    public AdapterOptions Options(ParseResult parse) => new()
    {
        ExpertPath = ParsePath(parse.GetValue(ExpertPath)!),
        LoraDropoutAtInference = parse.GetValue(DropoutAtInference),
    };

    public MixLora.Adapters.ExpertPath ParsePath(string value) => value switch
    {
        "auto" => MixLora.Adapters.ExpertPath.Auto,
        "vanilla" => MixLora.Adapters.ExpertPath.Vanilla,
        "shared" => MixLora.Adapters.ExpertPath.Shared,
        "fused" => MixLora.Adapters.ExpertPath.Fused,
        var other => throw new MixLoraException($"--expert-path \"{other}\" is not one of auto, vanilla, shared, fused"),
    };

    /// <summary>Loads the adapter named by --adapter onto the model, or returns null when none was given.</summary>
    public Adapter? Attach(ParseResult parse, MixLora.IO.PretrainedModel model)
    {
        var adapter = parse.GetValue(Adapter) is { } dir ? MixLora.Adapters.Adapter.Load(model.Model, dir, Options(parse, model)) : null;
        try
        {
            RequireMixLoraForExpertPath(parse, adapter is null ? [] : [adapter]);
            if (parse.GetValue(MergeLora))
            {
                if (adapter is null) throw new MixLoraException("--merge-lora folds an adapter into the base weights; give one with --adapter, or drop the option");
                adapter.MergeIntoBase();
            }
        }
        catch
        {
            adapter?.Dispose();
            throw;
        }
        return adapter;
    }

    /// <summary>An explicit --expert-path only means something for MixLoRA adapters: without one it is a mistake, not a no-op.</summary>
    public void RequireMixLoraForExpertPath(ParseResult parse, IReadOnlyList<Adapter> adapters)
    {
        if (parse.GetResult(ExpertPath) is not { Implicit: false }) return;
        if (adapters.Any(a => a.Config.IsMixLora)) return;
        throw new MixLoraException(adapters.Count == 0
            ? "--expert-path chooses how MixLoRA experts are computed; give a MixLoRA adapter with --adapter, or drop the option"
            : "--expert-path chooses how MixLoRA experts are computed, but no given adapter is a MixLoRA adapter; drop the option");
    }

    /// <summary>The adapter options, with the model's choice on non-finite weights (<c>--allow-nonfinite</c>).</summary>
    public AdapterOptions Options(ParseResult parse, MixLora.IO.PretrainedModel model) =>
        Options(parse) with { AllowNonFinite = model.Options.AllowNonFinite };
}
