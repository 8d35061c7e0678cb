using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MixLora.Adapters;
using MixLora.Benchmarks.Harness;
using MixLora.Config;
using MixLora.IO;
using MixLora.Serving;
using MixLora.Serving.Http;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.Serve;

/// <summary>
/// The serve case: `mixlora serve`'s throughput over loopback HTTP with 1, 4, 16 and 64 concurrent clients, half on the
/// base model and half spread over 3 adapters, streamed greedy completions of 64 tokens. Aggregate tokens/s and p50/p95
/// time to first token per level; 1 client is the same requests run one at a time.
/// </summary>
public static class ServeBenchmark
{
    private const string Usage = """
        serve [--model DIR] [--clients 1,4,16,64] [--requests N] [--new-tokens N] [--threads N] [--base-only] [--output FILE]
          --base-only every request on the base model (no adapters), to separate the adapters' per-step cost
          --requests  requests per client at each level (default 4); every level sends the same models and prompts in turn
          --output    JSON result (default bench/results/serve.json; a .md table is written next to it)
        """;

    private static readonly string[] Prompts =
        ["Once upon a time", "Lily went to the park and", "Tom had a big red ball.", "One day, a little bird", "The sun was shining and",
         "Sam and his mom", "There was a small cat who", "In the forest, a"];

    public static int Run(string[] args)
    {
        string modelDir, output;
        int[] levels;
        int perClient, newTokens;
        bool baseOnly;
        try
        {
            var options = new OptionReader("serve", args, ["--help", "--base-only"], ["--model", "--clients", "--requests", "--new-tokens", "--threads", "--output"]);
            if (options.Flag("--help"))
            {
                Console.WriteLine(Usage);
                return 0;
            }
            string root = RunEnvironment.RepoRoot();
            modelDir = options.String("--model") ?? Path.Combine(root, "assets", "stories260K-hf");
            levels = (options.String("--clients") ?? "1,4,16,64").Split(',').Select(c => int.TryParse(c, out int n) && n > 0 ? n
                : throw options.Error($"--clients takes positive integers joined by ',', got '{c}'")).ToArray();
            perClient = options.Int("--requests", 4, 1);
            baseOnly = options.Flag("--base-only");
            newTokens = options.Int("--new-tokens", 64, 1);
            if (options.Int("--threads", 0, 0) is int threads and > 0) set_num_threads(threads);
            output = Path.GetFullPath(options.String("--output") ?? Path.Combine(root, "bench", "results", "serve.json"));
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return UsageException.ExitCode;
        }
        return RunAsync(modelDir, levels, perClient, newTokens, baseOnly, output).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string modelDir, int[] levels, int perClient, int newTokens, bool baseOnly, string output)
    {
        using var model = PretrainedModel.Load(modelDir);
        var adapters = CreateAdapters(model);
        try
        {
            using var scheduler = new GenerationScheduler(model, adapters, new SchedulerOptions { MaxBatch = levels.Max() });
            await using var server = new MixLoraServer(scheduler, model.Tokenizer, new MixLoraServerOptions { Port = 0 });
            await server.StartAsync();
            // Half of the requests on the base model, the other half spread over the three adapters.
            string[] models = baseOnly ? ["base"] : ["base", "moe", "base", "lora-a", "base", "lora-b"];
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
            await ServeLoad.Run(http, server.BaseAddress, 2, 1, models, Prompts, 8);      // warm-up
            var rows = new List<JsonObject>();
            foreach (int clients in levels)
            {
                var (timings, wall) = await ServeLoad.Run(http, server.BaseAddress, clients, perClient, models, Prompts, newTokens);
                int tokens = timings.Sum(t => t.CompletionTokens);
                var ttft = timings.Select(t => t.TimeToFirstTokenMs).Order().ToArray();
                var row = new JsonObject
                {
                    ["clients"] = clients,
                    ["requests"] = timings.Count,
                    ["completion_tokens"] = tokens,
                    ["wall_s"] = Math.Round(wall, 3),
                    ["tokens_per_s"] = Math.Round(tokens / wall, 1),
                    ["ttft_p50_ms"] = Math.Round(Percentile(ttft, 0.50), 1),
                    ["ttft_p95_ms"] = Math.Round(Percentile(ttft, 0.95), 1),
                };
                rows.Add(row);
                Console.WriteLine(row.ToJsonString());
            }
            await server.StopAsync();
            var report = Report(rows, modelDir, perClient, newTokens);
            report["models"] = new JsonArray([.. models.Distinct().Select(m => (JsonNode)m)]);
            JsonFiles.WriteAtomic(output, report);
            var markdown = Markdown(rows, perClient, newTokens);
            AtomicFile.WriteAllText(Path.ChangeExtension(output, ".md"), markdown);
            Console.WriteLine();
            Console.Write(markdown);
            Console.WriteLine($"wrote {output}");
            return 0;
        }
        finally
        {
            foreach (var adapter in adapters.Values) adapter.Dispose();
        }
    }

    /// <summary>Three adapters on the model: a MixLoRA (E=8, top-2, r=16) and two LoRAs (r=8), seeded, non-zero B.</summary>
    private static Dictionary<string, Adapter> CreateAdapters(PretrainedModel model)
    {
        const string targets = "[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"down_proj\", \"up_proj\"]";
        var configs = new Dictionary<string, string>
        {
            ["moe"] = "\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 8, \"top_k\": 2, \"r\": 16, \"lora_alpha\": 32",
            ["lora-a"] = "\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16",
            ["lora-b"] = "\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16",
        };
        var adapters = new Dictionary<string, Adapter>();
        int seed = 1;
        foreach (var (name, keys) in configs)
        {
            var config = AdapterConfig.Parse($"{{\"lora_dropout\": 0.0, \"target_modules\": {targets}, {keys}}}", name);
            var adapter = Adapter.Create(model.Model, config, new AdapterOptions { Seed = seed++ });
            using (no_grad())
                foreach (var (tensorName, p) in adapter.NamedTensors.Where(kv => kv.Key.Contains("lora_B")))
                    p.copy_(randn(p.shape, generator: new Generator((ulong)seed)) * 0.02);
            adapters[name] = adapter;
        }
        return adapters;
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static JsonObject Report(List<JsonObject> rows, string modelDir, int perClient, int newTokens)
    {
        double single = rows.FirstOrDefault(r => (int)r["clients"]! == 1)?["tokens_per_s"]?.GetValue<double>() ?? double.NaN;
        double sixteen = rows.FirstOrDefault(r => (int)r["clients"]! == 16)?["tokens_per_s"]?.GetValue<double>() ?? double.NaN;
        string root = RunEnvironment.RepoRoot();
        return new JsonObject
        {
            ["case"] = "serve",
            ["model"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDir)),
            ["requests_per_client"] = perClient,
            ["new_tokens"] = newTokens,
            ["threads"] = get_num_threads(),
            ["levels"] = new JsonArray([.. rows.Select(r => (JsonNode)r.DeepClone())]),
            ["clients16_vs_1_tokens_per_s"] = double.IsNaN(single) || double.IsNaN(sixteen) ? null : Math.Round(sixteen / single, 2),
            ["target_clients16_vs_1"] = 6.0,
            ["machine"] = Environment.MachineName,
            ["load_average"] = RunEnvironment.LoadAverage(),
            ["commit"] = RunEnvironment.Commit(root),
        };
    }

    private static string Markdown(List<JsonObject> rows, int perClient, int newTokens)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Serve over loopback HTTP: streamed greedy completions of {newTokens} tokens, {perClient} requests per client, half base / half over 3 adapters.");
        text.AppendLine();
        text.AppendLine("| clients | requests | tokens | wall s | tokens/s | vs 1 client | TTFT p50 ms | TTFT p95 ms |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        double single = rows[0]["tokens_per_s"]!.GetValue<double>();
        foreach (var r in rows)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r["clients"]} | {r["requests"]} | {r["completion_tokens"]} | {r["wall_s"]} | {r["tokens_per_s"]} | {r["tokens_per_s"]!.GetValue<double>() / single:F2} | {r["ttft_p50_ms"]} | {r["ttft_p95_ms"]} |");
        return text.ToString();
    }
}
