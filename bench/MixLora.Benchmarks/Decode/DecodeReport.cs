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
    /// <summary>Issue 14's targets: shares of the base model's batch-1 decode rate, and of llama.cpp's rates.</summary>
    public const double MixLoraDecodeLimit = 0.75, LoraDecodeLimit = 0.9, LlamaCppDecodeLimit = 0.8, LlamaCppPrefillLimit = 1.5, Batch8Limit = 4.0;

    public static JsonObject Build(DecodeRun run)
    {
        var o = run.Options;
        var report = new JsonObject
        {
            ["tool"] = "bench/MixLora.Benchmarks decode (MixLora.NET, TorchSharp)",
            ["date"] = run.Date,
            ["shape_name"] = o.ModelDir is null ? o.Shape.Name : "folder",
            ["family"] = o.ModelDir is null ? o.Family : null,
            ["shape"] = o.ModelDir is null ? o.Shape.ToJson() : new JsonObject { ["model"] = o.ModelDir, ["adapter"] = o.AdapterDir },
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
                ["merged"] = "*_merged: the adapter's LoRA projections folded into the base weights while measured (Adapter.MergeIntoBase, CLI --merge-lora): all seven for LoRA, the attention ones for MixLoRA",
                ["lora"] = new JsonObject { ["r"] = TrainStepVariants.LoraRank, ["alpha"] = TrainStepVariants.LoraAlpha, ["targets"] = "q,k,v,o,gate,up,down" },
                ["mixlora"] = new JsonObject
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
            ["llama_cpp"] = run.LlamaCpp is null ? null : JsonSerializer.SerializeToNode(run.LlamaCpp, JsonFiles.Options),
        };
        foreach (var (key, value) in Headline(run)) report[key] = value;
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
        text.AppendLine($"## decode, {(o.ModelDir is null ? $"shape {o.Shape.Name} ({o.Family})" : o.ModelDir)}, {o.Threads} threads, prompt {o.PromptTokens} tokens, {o.NewTokens} new tokens");
        text.AppendLine();
        text.AppendLine($"commit {run.Commit}; load average {RunEnvironment.FormatLoad(run.LoadStart)} at start, {RunEnvironment.FormatLoad(run.LoadEnd)} at end");
        text.AppendLine();
        var table = new MarkdownTable("model", "prefill tok/s", "TTFT ms", "decode tok/s (b=1)", $"decode tok/s (b={DecodeSweep.BigBatch})",
            "decode vs base (b=1)", "max logit change");
        double? baseDecode = run.Results.TryGetValue("base", out var b) ? b.DecodeTokensPerS : null;
        foreach (var (name, r) in run.Results)
            table.Add(name, F(r.PrefillTokensPerS, 0), F(r.TimeToFirstTokenMs, 1), F(r.DecodeTokensPerS, 1), F(r.DecodeBatch8TokensPerS, 1),
                baseDecode is { } d ? F(r.DecodeTokensPerS / d, 3) : "-", r.MaxLogitChangeVsBase is { } c ? F(c, 4) : "-");
        if (run.LlamaCpp is { } l)
            table.Add("llama.cpp (base, f32 GGUF)", F(l.PrefillTokensPerS, 0), F(o.PromptTokens / l.PrefillTokensPerS * 1e3, 1), F(l.DecodeTokensPerS, 1), "-",
                baseDecode is { } d2 ? F(l.DecodeTokensPerS / d2, 3) : "-", "-");
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
        foreach (var key in new[] { "mixlora", "mixlora_merged", "lora", "lora_merged" })
        {
            if (!run.Results.TryGetValue(key, out var r)) continue;
            yield return ($"{key}_vs_base_decode", r.DecodeTokensPerS / b.DecodeTokensPerS);
            yield return ($"{key}_vs_base_decode_batch{DecodeSweep.BigBatch}", r.DecodeBatch8TokensPerS / b.DecodeBatch8TokensPerS);
        }
    }

    /// <summary>The issue's headline keys: the base model's rates, llama.cpp's, their ratios, and the same for each adapter.</summary>
    private static IEnumerable<(string Key, JsonNode? Value)> Headline(DecodeRun run)
    {
        if (!run.Results.TryGetValue("base", out var b)) yield break;
        yield return ("decode_tokens_per_s", b.DecodeTokensPerS);
        yield return ("decode_batch8_tokens_per_s", b.DecodeBatch8TokensPerS);
        yield return ("prefill_tokens_per_s", b.PrefillTokensPerS);
        yield return ("batch8_vs_batch1_decode", b.DecodeBatch8TokensPerS / b.DecodeTokensPerS);
        if (run.LlamaCpp is { } l)
        {
            yield return ("llama_cpp_decode_tokens_per_s", l.DecodeTokensPerS);
            yield return ("llama_cpp_prefill_tokens_per_s", l.PrefillTokensPerS);
            yield return ("vs_llama_cpp_decode", b.DecodeTokensPerS / l.DecodeTokensPerS);
            yield return ("vs_llama_cpp_prefill", b.PrefillTokensPerS / l.PrefillTokensPerS);
        }
        foreach (var name in new[] { "lora", "lora_merged", "mixlora", "mixlora_merged" })
        {
            if (!run.Results.TryGetValue(name, out var r)) continue;
            var adapter = new JsonObject
            {
                ["decode_tokens_per_s"] = r.DecodeTokensPerS,
                ["decode_batch8_tokens_per_s"] = r.DecodeBatch8TokensPerS,
                ["prefill_tokens_per_s"] = r.PrefillTokensPerS,
                ["vs_base_decode"] = r.DecodeTokensPerS / b.DecodeTokensPerS,
            };
            if (run.LlamaCpp is { } l2) adapter["vs_llama_cpp_decode"] = r.DecodeTokensPerS / l2.DecodeTokensPerS;
            yield return (name, adapter);
        }
    }

    private static IEnumerable<TargetCheck> Targets(DecodeRun run)
    {
        var ratios = Ratios(run).ToDictionary(r => r.Key, r => r.Value);
        if (ratios.TryGetValue("mixlora_vs_base_decode", out var m)) yield return TargetCheck.Min("mixlora_vs_base_decode", m, MixLoraDecodeLimit);
        // The LoRA target is met by the option made for it: the LoRAs merged into the weights at load (--merge-lora).
        if (ratios.TryGetValue("lora_merged_vs_base_decode", out var lo)) yield return TargetCheck.Min("lora_merged_vs_base_decode", lo, LoraDecodeLimit);
        if (!run.Results.TryGetValue("base", out var b)) yield break;
        yield return TargetCheck.Min("batch8_vs_batch1_decode", b.DecodeBatch8TokensPerS / b.DecodeTokensPerS, Batch8Limit);
        if (run.LlamaCpp is not { } l) yield break;
        yield return TargetCheck.Min("vs_llama_cpp_decode", b.DecodeTokensPerS / l.DecodeTokensPerS, LlamaCppDecodeLimit);
        yield return TargetCheck.Min("vs_llama_cpp_prefill", b.PrefillTokensPerS / l.PrefillTokensPerS, LlamaCppPrefillLimit);
    }

    private static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);
}
