using MixLora.Adapters;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Serving;
using MixLora.Tests.Adapters;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Serving;

/// <summary>Continuous batching across adapters gives every request what it would get alone.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class GenerationSchedulerTests
{
    private static string MixLoraDir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    /// <summary>A LoRA adapter with non-zero B (so it changes the output), saved to <paramref name="dir"/>.</summary>
    private static string SaveLora(TempDir dir)
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Create(model, AdapterTests.Config("\"peft_type\": \"LORA\""), new AdapterOptions { Seed = 2 });
        using (no_grad())
        {
            var generator = new Generator(5);
            foreach (var (name, p) in adapter.NamedTensors.Where(kv => kv.Key.Contains("lora_B"))) p.copy_(randn(p.shape, generator: generator) * 0.3);
        }
        adapter.Save(dir.File("lora"));
        return dir.File("lora");
    }

    private static readonly string[] Prompts =
        ["Once upon a time", "Lily", "The dog ran to the park and", "Tom had a big red ball. He", "One day", "She"];

    private static GenerationRequest Greedy(PretrainedModel model, string prompt, string name, int maxTokens) => new()
    {
        PromptIds = PromptEncoding.Encode(model.Tokenizer, prompt),
        Model = name,
        Sampling = new SamplingOptions { Temperature = 0, MaxNewTokens = maxTokens },
    };

    [Fact]
    public async Task GreedyOutputIsTheSameAloneAndAmongFifteenOthersWithOtherAdapters()
    {
        using var dir = new TempDir();
        var loraDir = SaveLora(dir);
        using var model = Stories260K.Load();
        using var mixlora = Adapter.Load(model.Model, MixLoraDir);
        using var lora = Adapter.Load(model.Model, loraDir);
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = mixlora, ["lora"] = lora },
            new SchedulerOptions { MaxBatch = 16, BaseNames = ["stories260K"] });
        string[] names = ["base", "moe", "lora", "stories260K"];
        var requests = Enumerable.Range(0, 16).Select(i => Greedy(model, Prompts[i % Prompts.Length], names[i % names.Length], 8 + 3 * (i % 6))).ToList();

        var alone = new List<GenerationResult>();
        foreach (var request in requests) alone.Add(await scheduler.GenerateAsync(request));
        var together = await Task.WhenAll(requests.Select(r => scheduler.GenerateAsync(r)));

        Assert.Equal(alone, together);
        Assert.Equal(0, scheduler.ActiveCount);
        Assert.All(alone, r => Assert.True(r.CompletionTokens > 0));
        Assert.Contains(alone, r => r.FinishReason == "length");
        // Adapters change the answer; base rows see no adapter.
        Assert.NotEqual(alone[0].Text, alone[1].Text);

        // The independent path: the single-sequence generator on a model with no adapter attached.
        using var plain = Stories260K.Load();
        for (int i = 0; i < requests.Count; i += names.Length)
        {
            var ids = new TokenGenerator(plain.Model).Generate(requests[i].PromptIds, requests[i].Sampling, plain.StopIds).ToList();
            Assert.Equal(plain.Tokenizer.Decode([.. requests[i].PromptIds, .. ids])[plain.Tokenizer.Decode(requests[i].PromptIds).Length..], alone[i].Text);
            Assert.Equal(ids.Count, alone[i].CompletionTokens);
        }
    }

    [Theory]
    [InlineData("phi3", "\"qkv_proj\", \"o_proj\", \"gate_up_proj\", \"down_proj\"")]
    [InlineData("phi", "\"q_proj\", \"v_proj\", \"dense\", \"fc1\", \"fc2\"")]
    [InlineData("gemma2", "\"q_proj\", \"v_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"")]
    public async Task OtherFamiliesBatchAcrossAdaptersAsTheyRunAlone(string family, string targets)
    {
        // Windows of 5, soft caps, partial rotary, the stacked and ungated FFNs: rows of different lengths and adapters
        // decoded together in one padded batch must each get what they get alone.
        using var dir = new TempDir();
        using (TinyModelFolder.Write(dir.File("model"), Models.Families.FamilyConfigs.Get(family), seed: 4)) { }
        using var model = PretrainedModel.Load(dir.File("model"), new MixLora.Config.RunOptions());
        Adapter Random(string peft, int seed)
        {
            string json = $"{{\"peft_type\": \"{peft}\", \"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.0, \"target_modules\": [{targets}]" +
                          (peft == "MIXLORA" ? ", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2" : "") + "}";
            var adapter = Adapter.Create(model.Model, MixLora.Config.AdapterConfig.Parse(json, "(test)"), new AdapterOptions { Seed = seed });
            using (no_grad())
            {
                var generator = new Generator((ulong)seed);
                foreach (var (_, p) in adapter.NamedTensors) p.copy_(randn(p.shape, generator: generator) * 0.5);
            }
            adapter.SetTraining(false);
            return adapter;
        }
        using var mixlora = Random("MIXLORA", 7);
        using var lora = Random("LORA", 8);
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = mixlora, ["lora"] = lora },
            new SchedulerOptions { MaxBatch = 8 });
        string[] names = ["base", "moe", "lora"];
        var requests = Enumerable.Range(0, 8).Select(i => Greedy(model, Prompts[i % Prompts.Length], names[i % names.Length], 6 + 2 * (i % 4))).ToList();
        var alone = new List<GenerationResult>();
        foreach (var request in requests) alone.Add(await scheduler.GenerateAsync(request));
        var together = await Task.WhenAll(requests.Select(r => scheduler.GenerateAsync(r)));
        Assert.Equal(alone, together);
        Assert.NotEqual(alone[0].Text, alone[1].Text);   // the same prompt with and without the MixLoRA adapter
    }

    [Fact]
    public async Task StreamedChunksAddUpAndStopStringsCutTheText()
    {
        using var model = Stories260K.Load();
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter>());
        var request = Greedy(model, "Once upon a time", "base", 40);
        var full = await scheduler.GenerateAsync(request);
        var chunks = new List<GenerationChunk>();
        await foreach (var chunk in scheduler.Generate(request)) chunks.Add(chunk);
        Assert.Equal(full.Text, string.Concat(chunks.Select(c => c.Text)));
        Assert.True(chunks.Count > 5);
        Assert.All(chunks.SkipLast(1), c => Assert.Null(c.FinishReason));
        Assert.Equal(full.FinishReason, chunks[^1].FinishReason);

        // A stop string in the middle of the greedy text: the answer ends right before it.
        int at = full.Text.IndexOf(' ', 12);
        var stop = full.Text.Substring(at, 4);
        var stopped = await scheduler.GenerateAsync(request with { Stop = [stop] });
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal("stop", stopped.FinishReason);
    }

    [Fact]
    public async Task BadRequestsAreRefusedAndCancelledOnesFreeTheirRow()
    {
        using var model = Stories260K.Load();
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter>());
        var request = Greedy(model, "Once upon a time", "base", 16);
        Assert.Contains("the model \"gpt-4\" does not exist; served models: base",
            Assert.Throws<UnknownModelException>(() => scheduler.Generate(request with { Model = "gpt-4" })).Message);
        Assert.Contains("plus max_tokens (600) exceed the model's context of 512 tokens",
            Assert.Throws<MixLoraException>(() => scheduler.Generate(request with { Sampling = request.Sampling with { MaxNewTokens = 600 } })).Message);
        Assert.Throws<MixLoraException>(() => scheduler.Generate(request with { PromptIds = [] }));

        await scheduler.GenerateAsync(request);                  // warm-up: lazily created tensors
        await Task.Delay(50);
        long idle = scheduler.LiveTensors;
        using var cancel = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in scheduler.Generate(request with { Sampling = request.Sampling with { MaxNewTokens = 400 } }, cancel.Token))
                if (++received == 3) cancel.Cancel();
        });
        for (int i = 0; i < 100 && scheduler.ActiveCount > 0; i++) await Task.Delay(10);
        Assert.Equal(0, scheduler.ActiveCount);
        for (int i = 0; i < 20; i++) await scheduler.GenerateAsync(request);
        await Task.Delay(50);
        Assert.Equal(idle, scheduler.LiveTensors);
    }

    [Fact]
    public async Task MemoryStaysFlatOverAThousandSequentialRequests()
    {
        using var model = Stories260K.Load();
        using var moe = Adapter.Load(model.Model, MixLoraDir);
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = moe });
        string[] names = ["base", "moe"];
        async Task RunAsync(int from, int count)
        {
            for (int i = from; i < from + count; i++)
                await scheduler.GenerateAsync(Greedy(model, Prompts[i % Prompts.Length], names[i % 2], 4) with
                {
                    Sampling = new SamplingOptions { Temperature = 0.8, Seed = i, MaxNewTokens = 4 },
                });
        }
        await RunAsync(0, 200);                                       // warm-up: allocator pools, lazily created tensors
        await Task.Delay(20);
        long tensors = scheduler.LiveTensors;
        long rss = Environment.WorkingSet;
        await RunAsync(200, 1000);
        await Task.Delay(20);
        Assert.Equal(tensors, scheduler.LiveTensors);
        long grownMiB = (Environment.WorkingSet - rss) >> 20;
        Assert.True(grownMiB < 32, $"RSS grew by {grownMiB} MiB over 1,000 requests");
    }
}
