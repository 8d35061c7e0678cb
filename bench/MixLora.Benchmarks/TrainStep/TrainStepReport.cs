using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.TrainStep;

/// <summary>The result JSON of a train-step sweep: the peer's report layout plus headline ratios, targets and ours/peer ratios.</summary>
public static class TrainStepReport
{
    public const string StepDefinition =
        "forward + causal LM loss (+ aux_coef * router aux loss for MixLoRA) + backward + AdamW (lr 1e-4, wd 0.01) " +
        "on adapter params only; base frozen; fp32; dropout off. base_fwd: the frozen model's forward without gradients";

    public const string MemoryDefinition =
        "peak = VmHWM (= ru_maxrss) of the variant's own process; delta = peak - VmHWM after the model, adapter and " +
        "optimizer were built (before the first step; glibc's retained heap included, as the peer measures it); " +
        "activation_mib (live activations) = what one more step, after a warm-up step, adds to RSS in a second worker " +
        "started with GLIBC_TUNABLES mmap_threshold=65536:trim_threshold=0 (freed memory returned at once); per variant " +
        "the largest over rounds";

    public static JsonObject Build(TrainStepRun run)
    {
        var o = run.Options;
        var report = new JsonObject
        {
            ["tool"] = "bench/MixLora.Benchmarks train-step (MixLora.NET, TorchSharp)",
            ["date"] = run.Date,
            ["shape_name"] = o.Shape.Name,
            ["shape"] = o.Shape.ToJson(),
            ["tokens_per_step"] = o.Shape.Tokens,
            ["threads"] = o.Threads,
            ["warmup"] = o.Warmup,
            ["steps"] = o.Steps,
            ["rounds"] = o.Rounds,
            ["variants"] = new JsonArray(run.Raw.Keys.Select(v => (JsonNode?)v).ToArray()),
            ["lora"] = new JsonObject { ["r"] = TrainStepVariants.LoraRank, ["alpha"] = TrainStepVariants.LoraAlpha },
            ["mixlora"] = new JsonObject
            {
                ["experts"] = TrainStepVariants.Experts, ["top_k"] = TrainStepVariants.TopK, ["r"] = TrainStepVariants.ExpertRank,
                ["alpha"] = TrainStepVariants.ExpertAlpha, ["aux_coef"] = TrainStepVariants.AuxCoef,
            },
            ["step_definition"] = StepDefinition,
            ["memory_definition"] = MemoryDefinition,
            ["flop_formula"] = StepFlops.Formula,
            ["machine"] = RunEnvironment.Machine(),
            ["load_average"] = new JsonObject { ["start"] = run.LoadStart, ["end"] = run.LoadEnd },
            ["commit"] = run.Commit,
            ["gemm_start"] = run.GemmStart,
            ["gemm_end"] = run.GemmEnd,
            ["results"] = JsonSerializer.SerializeToNode(run.Results, JsonFiles.Options),
            ["raw"] = JsonSerializer.SerializeToNode(run.Raw, JsonFiles.Options),
            ["ratios"] = TrainStepComparison.Ratios(run.Results),
        };
        foreach (var (key, value) in run.Headlines) report[key] = value;
        if (run.VsPeer is { } vsPeer)
        {
            report["vs_peer"] = JsonSerializer.SerializeToNode(vsPeer, JsonFiles.Options);
            report["peer_file"] = Path.GetFullPath(run.Peer!.Path);
        }
        var targets = new JsonObject();
        foreach (var target in run.Targets) targets[target.Name] = target.ToJson();
        report["targets"] = targets;
        if (run.Warnings.Count > 0) report["warnings"] = new JsonArray(run.Warnings.Select(w => (JsonNode?)w).ToArray());
        return report;
    }
}
