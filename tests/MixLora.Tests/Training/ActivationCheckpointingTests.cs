using MixLora.Tensors;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.IO;
using MixLora.Models;
using MixLora.Tests.Support;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

/// <summary>
/// Activation checkpointing recomputes each decoder layer in the backward pass; with dropout and router jitter on, the
/// recompute must replay the same random numbers, so every output and gradient equals the plain forward's.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class ActivationCheckpointingTests
{
    private const string NoisyMixLora = "\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2, \"jitter_noise\": 0.1";

    private static AdapterConfig Config(string extra, double dropout = 0.2) => AdapterConfig.Parse(
        "{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": " + dropout.ToString(System.Globalization.CultureInfo.InvariantCulture) +
        ", \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"down_proj\", \"up_proj\"], " + extra + "}", "(test)");

    /// <summary>Everything one training forward/backward produces, copied out of the graph.</summary>
    private sealed record StepResult(Tensor Logits, double Loss, double Aux, Dictionary<string, Tensor> Gradients, byte[] GlobalRng, byte[][] AdapterRngs);

    /// <summary>Fresh adapters on <paramref name="model"/> with random non-zero B (so every LoRA gets a gradient), in training mode.</summary>
    private static List<Adapter> CreateAdapters(CausalLM model, params AdapterConfig[] configs)
    {
        var adapters = configs.Select((c, i) => Adapter.Create(model, c, new AdapterOptions { Seed = 10 + i })).ToList();
        using var generator = new Generator(5);
        using (no_grad())
            foreach (var adapter in adapters)
            {
                foreach (var (name, p) in adapter.NamedTensors)
                    if (name.Contains("lora_B")) p.copy_(randn(p.shape, generator: generator) * 0.05);
                adapter.SetTraining(true);
            }
        return adapters;
    }

    /// <summary>One forward (rows: fused batch, or null for a single adapter) and backward of Σ (LM loss + aux loss), from fixed random states.</summary>
    private static StepResult Step(CausalLM model, IReadOnlyList<Adapter> adapters, Tensor ids, Tensor mask, IReadOnlyList<AdapterRows>? rows,
        bool checkpointing, byte[] globalRng, byte[][] adapterRngs)
    {
        GeneratorState.Restore(globalRng);
        for (int i = 0; i < adapters.Count; i++)
        {
            GeneratorState.Restore(adapterRngs[i], adapters[i].RandomGenerator);
            foreach (var p in adapters[i].TrainableParameters()) p.grad = null;
        }
        model.ActivationCheckpointing = checkpointing;
        using var scope = NewDisposeScope();
        var output = model.Forward(ids, mask, rows: rows);
        Tensor loss = zeros(1), aux = zeros(1);
        var parts = rows ?? [new AdapterRows(adapters[0], 0, (int)ids.shape[0])];
        foreach (var r in parts)
        {
            var adapter = (Adapter)r.Owner;
            var rowMask = mask.narrow(0, r.Start, r.Count);
            loss = loss + CausalLmLoss.Compute(output.Logits.narrow(0, r.Start, r.Count), ids.narrow(0, r.Start, r.Count), rowMask);
            if (adapter.AuxiliaryLoss(output.RouterLogitsOf(adapter), rowMask) is { } a) aux = aux + a;
        }
        (loss + aux).backward();
        var gradients = new Dictionary<string, Tensor>();
        for (int i = 0; i < adapters.Count; i++)
            foreach (var (name, p) in adapters[i].NamedTensors)
                if (p.grad is { } g) gradients[$"{i}:{name}"] = g.clone().DetachFromDisposeScope();
        return new StepResult(output.Logits.clone().DetachFromDisposeScope(), loss.item<float>(), aux.item<float>(), gradients,
            GeneratorState.Capture(), adapters.Select(a => GeneratorState.Capture(a.RandomGenerator)).ToArray());
    }

    private static void AssertSame(StepResult expected, StepResult actual)
    {
        TensorAssert.Close(expected.Logits, actual.Logits, 1e-6, "logits");
        Assert.Equal(expected.Loss, actual.Loss, 1e-6);
        Assert.Equal(expected.Aux, actual.Aux, 1e-6);
        Assert.NotEqual(0, expected.Aux);
        Assert.Equal(expected.Gradients.Keys.Order(), actual.Gradients.Keys.Order());
        foreach (var (name, g) in expected.Gradients)
        {
            double scale = Math.Max(g.abs().max().item<float>(), 1e-12);
            Assert.True(TensorAssert.MaxAbsDiff(g, actual.Gradients[name]) <= 1e-6 * scale, $"gradient of {name} differs");
        }
        // The recompute rewinds the generators and puts them back: later draws are unaffected.
        Assert.Equal(expected.GlobalRng, actual.GlobalRng);
        Assert.Equal(expected.AdapterRngs, actual.AdapterRngs);
    }

    private static (Tensor Ids, Tensor Mask) Batch(long rows, long length, long vocab)
    {
        var ids = randint(3, vocab, [rows, length], generator: new Generator(8));
        var mask = ones([rows, length], dtype: ScalarType.Int64);
        using (no_grad()) mask[rows - 1].narrow(0, length - 3, 3).fill_(0);          // right padding in the last row
        return (ids, mask);
    }

    [Fact]
    public void MixLoraWithDropoutAndJitterGetsTheSameLossesAndGradients()
    {
        using var model = Stories260K.LoadModel();
        var adapters = CreateAdapters(model, Config(NoisyMixLora));
        var statistics = adapters[0].CollectRouterStatistics();
        var (ids, mask) = Batch(3, 11, 512);
        var global = GeneratorState.Capture();
        var local = new[] { GeneratorState.Capture(adapters[0].RandomGenerator) };

        var plain = Step(model, adapters, ids, mask, null, checkpointing: false, global, local);
        var plainTokens = statistics.Snapshot().Tokens;
        statistics.Reset();
        var checkpointed = Step(model, adapters, ids, mask, null, checkpointing: true, global, local);

        AssertSame(plain, checkpointed);
        Assert.True(plain.Gradients.Count > 40, $"only {plain.Gradients.Count} tensors got a gradient");
        // The recompute does not count the routing a second time.
        Assert.Equal(plainTokens, statistics.Snapshot().Tokens);
        adapters[0].Dispose();
    }

    [Fact]
    public void FusedTwoAdapterBatchGetsTheSameLossesAndGradients()
    {
        using var model = Stories260K.LoadModel();
        var adapters = CreateAdapters(model, Config(NoisyMixLora), Config("\"peft_type\": \"LORA\", \"use_dora\": true", dropout: 0.3));
        var (ids, mask) = Batch(4, 9, 512);
        var rows = new[] { new AdapterRows(adapters[0], 0, 2), new AdapterRows(adapters[1], 2, 2) };
        var global = GeneratorState.Capture();
        var local = adapters.Select(a => GeneratorState.Capture(a.RandomGenerator)).ToArray();

        var plain = Step(model, adapters, ids, mask, rows, checkpointing: false, global, local);
        var checkpointed = Step(model, adapters, ids, mask, rows, checkpointing: true, global, local);

        AssertSame(plain, checkpointed);
        Assert.Contains(plain.Gradients.Keys, k => k.StartsWith("1:") && k.EndsWith("magnitude"));
        foreach (var a in adapters) a.Dispose();
    }

    [Theory]
    [InlineData("phi3", "\"qkv_proj\", \"o_proj\", \"gate_up_proj\", \"down_proj\"")]
    [InlineData("phi", "\"q_proj\", \"k_proj\", \"v_proj\", \"dense\", \"fc1\", \"fc2\"")]
    public void PhiResidualAndEmbeddingDropoutReplayInTheRecompute(string family, string targets)
    {
        // resid_pdrop (and Phi's embd_pdrop) draw from the global generator inside each layer: the recompute must redraw them.
        var config = MixLora.Tests.Models.Families.FamilyConfigs.Get(family) with { ResidPdrop = 0.2, EmbdPdrop = 0.1 };
        using var model = TinyModels.Create(config, seed: 3);
        // No LoRA dropout: the global generator then drives only the model's own dropout (jitter uses the adapter's).
        var adapter = AdapterConfig.Parse($"{{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.0, \"target_modules\": [{targets}], {NoisyMixLora}}}", "(test)");
        var adapters = CreateAdapters(model, adapter);
        var (ids, mask) = Batch(2, 10, config.VocabSize);
        var global = GeneratorState.Capture();
        var local = new[] { GeneratorState.Capture(adapters[0].RandomGenerator) };

        var plain = Step(model, adapters, ids, mask, null, checkpointing: false, global, local);
        var checkpointed = Step(model, adapters, ids, mask, null, checkpointing: true, global, local);
        AssertSame(plain, checkpointed);
        // The dropout is real: another draw gives other logits, and evaluation mode none.
        var other = Step(model, adapters, ids, mask, null, checkpointing: false, GeneratorState.Capture(new Generator(99)), local);
        Assert.True(TensorAssert.MaxAbsDiff(plain.Logits, other.Logits) > 1e-4, "resid_pdrop had no effect");
        adapters[0].Dispose();
    }

    [Fact]
    public void SlidingWindowModelWithoutRouterLossGetsTheSameGradients()
    {
        // Sliding-window masks are saved with the graph; router logits that no loss uses get no gradient.
        var config = TinyModels.Config("mistral", slidingWindow: 4, layers: 3);
        using var model = TinyModels.Create(config, seed: 3);
        var adapters = CreateAdapters(model, Config(NoisyMixLora + ", \"router_loss\": false"));
        var (ids, mask) = Batch(2, 10, config.VocabSize);
        var global = GeneratorState.Capture();
        var local = new[] { GeneratorState.Capture(adapters[0].RandomGenerator) };

        var plain = Step(model, adapters, ids, mask, null, checkpointing: false, global, local);
        var checkpointed = Step(model, adapters, ids, mask, null, checkpointing: true, global, local);

        Assert.Equal(0, plain.Aux);
        TensorAssert.Close(plain.Logits, checkpointed.Logits, 1e-6, "logits");
        foreach (var (name, g) in plain.Gradients)
            Assert.True(TensorAssert.MaxAbsDiff(g, checkpointed.Gradients[name]) <= 1e-6 * Math.Max(g.abs().max().item<float>(), 1e-12), name);
        Assert.Equal(plain.Gradients.Count, checkpointed.Gradients.Count);
        adapters[0].Dispose();
    }

    [Fact]
    public void TrainingRunEndsWithTheSameAdapters()
    {
        using var plain = new TempDir();
        using var checkpointed = new TempDir();
        string json = TrainerTests.Config(NoisyMixLora.Replace("\"peft_type\": \"MIXLORA\", ", ""), batch: 2, micro: 1, epochs: 1,
            extraAdapters: ", " + TrainerTests.SecondAdapter());
        var config = TrainingConfig.Parse(json, "(test)");
        foreach (var (dir, on) in new[] { (plain.Path, false), (checkpointed.Path, true) })
        {
            using var model = Stories260K.Load();
            var result = Trainer.Run(model, config, new TrainingRunOptions
            {
                OutputDir = dir, BaseDir = TrainerTests.DataDir(8), Seed = 7, ActivationCheckpointing = on,
            });
            Assert.All(result.Adapters, a => Assert.True(a.Completed, a.Name));
            Assert.False(model.Model.ActivationCheckpointing);                  // the run puts the model's setting back
        }
        foreach (var name in new[] { "a", "b" })
        {
            var expected = TorchBinFile.Load(Path.Combine(plain.Path, name, "adapter_model.bin"));
            var actual = TorchBinFile.Load(Path.Combine(checkpointed.Path, name, "adapter_model.bin"));
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var (key, t) in expected)
            {
                double scale = Math.Max(t.abs().max().item<float>(), 1e-12);
                Assert.True(TensorAssert.MaxAbsDiff(t, actual[key]) <= 1e-6 * scale, $"{name}: {key} differs");
            }
            var losses = new MetricsLog(Path.Combine(plain.Path, name)).Read().Select(m => m.Loss).ToList();
            var checkpointedLosses = new MetricsLog(Path.Combine(checkpointed.Path, name)).Read().Select(m => m.Loss).ToList();
            Assert.Equal(losses.Count, checkpointedLosses.Count);
            for (int i = 0; i < losses.Count; i++) Assert.Equal(losses[i], checkpointedLosses[i], 1e-6);
        }
    }

    [Fact]
    public void InferenceForwardIgnoresTheSetting()
    {
        using var model = Stories260K.LoadModel();
        var adapters = CreateAdapters(model, Config(NoisyMixLora, dropout: 0));
        adapters[0].SetTraining(false);
        var (ids, mask) = Batch(2, 7, 512);
        using var _ = no_grad();
        using var expected = model.Forward(ids, mask);
        model.ActivationCheckpointing = true;
        using var actual = model.Forward(ids, mask);
        TensorAssert.Close(expected.Logits, actual.Logits, 0, "logits");
        Assert.False(actual.Logits.requires_grad);
        adapters[0].Dispose();
    }

    [Fact]
    public void AdaptersRegisterTheirGeneratorWhileAttached()
    {
        using var model = Stories260K.LoadModel();
        var adapter = Adapter.Create(model, Config(NoisyMixLora));
        Assert.Contains(adapter.RandomGenerator, model.RandomSources);
        adapter.Detach();
        Assert.DoesNotContain(adapter.RandomGenerator, model.RandomSources);
        adapter.Attach();
        adapter.Attach();
        Assert.Equal(1, model.RandomSources.Count(g => ReferenceEquals(g, adapter.RandomGenerator)));
        adapter.Dispose();
        Assert.Empty(model.RandomSources);
    }
}
