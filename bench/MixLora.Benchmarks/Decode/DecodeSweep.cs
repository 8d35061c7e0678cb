using System.Globalization;
using System.Text.Json.Nodes;
using MixLora.Benchmarks.Harness;
using MixLora.Benchmarks.TrainStep;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.Decode;

/// <summary>What a decode run produced, from which the JSON and markdown are written.</summary>
public sealed record DecodeRun(DecodeOptions Options, string Date, string Commit, JsonArray? LoadStart, JsonArray? LoadEnd,
    IReadOnlyDictionary<string, DecodeResult> Results, LlamaCppResult? LlamaCpp);

/// <summary>
/// Prefill and cached greedy decode of each configuration at batch 1 and 8: one warm-up run each, then the
/// repetitions round-robin over the configurations, so background load on the machine hits them alike.
/// </summary>
public static class DecodeSweep
{
    public const int BigBatch = 8, Repeats = 3;

    public static DecodeRun Run(DecodeOptions o)
    {
        var date = DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var loadStart = RunEnvironment.LoadAverage();
        set_num_threads(o.Threads);
        Console.WriteLine($"decode: shape {o.Shape.Name} ({o.Family}), {get_num_threads()} threads, prompt {o.PromptTokens} tokens, " +
            $"{o.NewTokens} new tokens, batch 1 and {BigBatch}; 1 warm-up + median of {Repeats}; load average {RunEnvironment.FormatLoad(loadStart)}");
        using var models = o.ModelDir is null ? new DecodeModels(o.Shape, o.Family) : new DecodeModels(o.ModelDir, o.AdapterDir);
        // The train-step worker's token seed; batch 1 decodes the first of the 8 prompts.
        using var prompts = randint(0, models.Model.Config.VocabSize, [BigBatch, o.PromptTokens], generator: new Generator(TrainStepWorker.Seed + 2)); // [8, P]
        using var first = prompts.narrow(0, 0, 1);                                                                                   // [8, P] -> [1, P]

        var batch1 = models.Configurations.ToDictionary(c => c.Name, _ => new List<DecodeTiming>());
        var batch8 = models.Configurations.ToDictionary(c => c.Name, _ => new List<DecodeTiming>());
        var logitChange = new Dictionary<string, double>();
        var promptIds = first.data<long>().ToArray().Select(id => (int)id).ToList();
        using var llamaCpp = o.LlamaCpp ? new LlamaCppDecode(o, models, o.PromptTokens) : null;
        Tensor? baseLogits = null;
        try
        {
            for (int rep = 0; rep <= Repeats; rep++) // rep 0 is the warm-up
            {
                // Each repetition starts at a different configuration: no configuration always runs first (or after the b=8 prefills of the same one).
                int shift = rep % models.Configurations.Count;
                foreach (var (name, adapter, merged) in models.Configurations.Skip(shift).Concat(models.Configurations.Take(shift)))
                {
                    adapter?.Attach();
                    if (merged) adapter!.MergeIntoBase();
                    try
                    {
                        // The warm-up run also records how far the adapter moves the logits away from the base model's.
                        Action<Tensor>? capture = rep > 0 ? null : logits =>
                        {
                            if (adapter is null) baseLogits = logits;
                            else using (logits) logitChange[name] = (logits - baseLogits!).abs().max().item<float>(); // [1, V] -> scalar
                        };
                        var one = DecodeRunner.Run(models.Model, first, o.NewTokens, capture);
                        var eight = DecodeRunner.Run(models.Model, prompts, o.NewTokens);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  [{name}] {(rep == 0 ? "warm-up" : $"run {rep}/{Repeats}")}: prefill {one.PrefillSeconds * 1e3:F1} ms, " +
                            $"decode {o.NewTokens / one.DecodeSeconds:F1} tok/s at batch 1, {BigBatch * o.NewTokens / eight.DecodeSeconds:F1} at batch {BigBatch}"));
                        if (rep == 0) continue;
                        batch1[name].Add(one);
                        batch8[name].Add(eight);
                    }
                    finally
                    {
                        adapter?.Detach();
                    }
                }
                llamaCpp?.Measure(promptIds, o.NewTokens, record: rep > 0);
            }
        }
        finally
        {
            baseLogits?.Dispose();
        }
        var results = models.Configurations.ToDictionary(c => c.Name, c => DecodeResult.From(o.PromptTokens, o.NewTokens,
            batch1[c.Name], batch8[c.Name], logitChange.TryGetValue(c.Name, out var change) ? change : null));
        return new DecodeRun(o, date, RunEnvironment.Commit(RunEnvironment.RepoRoot()), loadStart, RunEnvironment.LoadAverage(), results,
            llamaCpp?.Result(o.PromptTokens, o.NewTokens));
    }
}
