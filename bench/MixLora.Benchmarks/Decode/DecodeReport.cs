using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;
using MixLora.Benchmarks.TrainStep;

namespace MixLora.Benchmarks.Decode;

/// <summary>The decode result JSON and its markdown summary.</summary>
public static class DecodeReport
{
    /// <summary>MixLoRA must decode at least this share of the base model's tokens/s (batch 1).</summary>
    public const double MixLoraDecodeLimit = 0.75;

    public static JsonObject Build(DecodeRun run)
    {
        var o = run.Options;
        var report = new JsonObject
        {
            ["tool"] = "bench/MixLora.Benchmarks decode (MixLora.NET, TorchSharp)",
            ["date"] = run.Date,
            ["shape_name"] = o.Shape.Name,
            ["shape"] = o.Shape.ToJson(),
            ["threads"] = o.Threads,
            ["prompt_tokens"] = o.PromptTokens,
            ["new_tokens"] = o.NewTokens,
            ["batch_sizes"] = new JsonArray(1, DecodeSweep.BigBatch),
            ["warmup"] = 1,
            ["repeats"] = DecodeSweep.Repeats,
            ["definition"] = "fp32, inference mode (no_grad, adapters SetTraining(false)), greedy argmax. prefill = one forward " +
                "of the prompt into an empty KV cache, logits of the last position only, plus the first token's argmax " +
                "(= time to first token); decode = new_tokens further single-token forwards with the KV cache. " +
                "tokens/s = batch x tokens / time; medians over the repeats, configurations interleaved",
            ["adapters"] = new JsonObject
            {
                ["lora"] = new JsonObject { ["r"] = TrainStepVariants.LoraRank, ["alpha"] = TrainStepVariants.LoraAlpha, ["targets"] = "q,k,v,o,gate,up,down" },
                ["mixlora_fused"] = new JsonObject
                {
                    ["experts"] = TrainStepVariants.Experts, ["top_k"] = TrainStepVariants.TopK, ["r"] = TrainStepVariants.ExpertRank,
                    ["alpha"] = TrainStepVariants.ExpertAlpha, ["expert_path"] = "fused",
                },
                ["lora_b_init"] = $"normal(0, {DecodeModels.LoraBStd.ToString(CultureInfo.InvariantCulture)}) so that the adapters change the output",
            },
            ["machine"] = RunEnvironment.Machine(),
            ["load_average"] = new JsonObject { ["start"] = run.LoadStart, ["end"] = run.LoadEnd },
            ["commit"] = run.Commit,
            ["results"] = JsonSerializer.SerializeToNode(run.Results, JsonFiles.Options),
        };
        foreach (var (key, value) in Ratios(run)) report[key] = value;
        var targets = new JsonObject();
        foreach (var target in Targets(run)) targets[target.Name] = target.ToJson();
        report["targets"] = targets;
        return report;
    }

    public static string Markdown(DecodeRun run)
    {
        var o = run.Options;
        var text = new StringBuilder();
        text.AppendLine($"## decode, shape {o.Shape.Name}, {o.Threads} threads, prompt {o.PromptTokens} tokens, {o.NewTokens} new tokens");
        text.AppendLine();
        text.AppendLine($"commit {run.Commit}; load average {RunEnvironment.FormatLoad(run.LoadStart)} at start, {RunEnvironment.FormatLoad(run.LoadEnd)} at end");
        text.AppendLine();
        var table = new MarkdownTable("model", "prefill tok/s", "TTFT ms", "decode tok/s (b=1)", $"decode tok/s (b={DecodeSweep.BigBatch})",
            "decode vs base (b=1)", "max logit change");
        double? baseDecode = run.Results.TryGetValue("base", out var b) ? b.DecodeTokensPerS : null;
        foreach (var (name, r) in run.Results)
            table.Add(name, F(r.PrefillTokensPerS, 0), F(r.TimeToFirstTokenMs, 1), F(r.DecodeTokensPerS, 1), F(r.DecodeBatch8TokensPerS, 1),
                baseDecode is { } d ? F(r.DecodeTokensPerS / d, 3) : "-", r.MaxLogitChangeVsBase is { } c ? F(c, 4) : "-");
        text.Append(table);
        text.AppendLine();
        foreach (var (key, value) in Ratios(run)) text.AppendLine($"- {key}: {F(value, 3)}");
        text.AppendLine();
        text.AppendLine("Targets:");
        foreach (var target in Targets(run)) text.AppendLine("- " + target.Describe());
        return text.ToString();
    }

    /// <summary>Adapter / base decode rates; only for configurations that ran.</summary>
    private static IEnumerable<(string Key, double Value)> Ratios(DecodeRun run)
    {
        if (!run.Results.TryGetValue("base", out var b)) yield break;
        foreach (var (name, key) in new[] { ("mixlora_fused", "mixlora"), ("lora", "lora") })
        {
            if (!run.Results.TryGetValue(name, out var r)) continue;
            yield return ($"{key}_vs_base_decode", r.DecodeTokensPerS / b.DecodeTokensPerS);
            yield return ($"{key}_vs_base_decode_batch{DecodeSweep.BigBatch}", r.DecodeBatch8TokensPerS / b.DecodeBatch8TokensPerS);
        }
    }

    private static IEnumerable<TargetCheck> Targets(DecodeRun run) =>
        Ratios(run).Where(r => r.Key == "mixlora_vs_base_decode").Select(r => TargetCheck.Min(r.Key, r.Value, MixLoraDecodeLimit));

    private static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);
}
