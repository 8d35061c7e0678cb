using MixLora.Adapters;
using MixLora.Config;
using MixLora.Models;
using MixLora.Models.Kernels;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>The one-pass MixLoRA block of a decode step gives the general path's outputs, router logits and tokens.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class DecodeExpertsTests
{
    public static TheoryData<string, int, int, int> Adapters => new()
    {
        { "[\"q_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]", 8, 176, 64 },
        { "[\"v_proj\", \"gate_proj\", \"down_proj\"]", 6, 176, 64 },   // experts without an up_proj LoRA; rank not a multiple of 8
        { "[\"up_proj\"]", 16, 176, 64 },
        { "[\"gate_proj\", \"up_proj\", \"down_proj\"]", 16, 40, 64 }, // an FFN narrower than the hidden size
        { "[\"gate_proj\", \"up_proj\", \"down_proj\"]", 6, 600, 320 }, // several work chunks of I and of H, the last ones partial
    };

    private static (CausalLM Model, Adapter Adapter) Build(string targets, int rank, int intermediate = 176, int hidden = 64, string family = "llama")
    {
        var model = TinyModels.Create(TinyModels.Config(family, hidden: hidden, layers: 2, vocab: 113) with { IntermediateSize = intermediate }, seed: 12);
        var config = AdapterConfig.Parse("{\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 6, \"top_k\": 2, " +
                                         $"\"r\": {rank}, \"lora_alpha\": {2 * rank}, \"lora_dropout\": 0.05, \"target_modules\": {targets}}}", "(test)");
        var adapter = Adapter.Create(model, config, new AdapterOptions { Seed = 3 });
        using (no_grad())
        {
            var g = new Generator(19);
            foreach (var (name, p) in adapter.NamedTensors)
                if (name.Contains("lora_B") || name.EndsWith("moe_gate.weight")) p.copy_(randn(p.shape, generator: g) * 0.3);
        }
        adapter.SetTraining(false);
        return (model, adapter);
    }

    private static T WithKernels<T>(bool on, Func<T> compute)
    {
        SmallBatchLinear.Enabled = on;
        try
        {
            return compute();
        }
        finally
        {
            SmallBatchLinear.Enabled = true;
        }
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void TheBlockEqualsTheGeneralPath(string targets, int rank, int intermediate, int hiddenSize) =>
        AssertBlockEqualsGeneralPath(Build(targets, rank, intermediate, hiddenSize), hiddenSize);

    [Fact]
    public void Phi3StackedGateUpExpertsEqualTheGeneralPath() =>
        AssertBlockEqualsGeneralPath(Build("[\"qkv_proj\", \"gate_up_proj\", \"down_proj\"]", 6, 600, 64, family: "phi3"), 64);

    [Fact]
    public void GemmaGeluExpertsEqualTheGeneralPath() =>
        AssertBlockEqualsGeneralPath(Build("[\"q_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]", 8, 176, 64, family: "gemma"), 64);

    [Fact]
    public void PhiUngatedExpertsWithBiasesEqualTheGeneralPath() =>
        AssertBlockEqualsGeneralPath(Build("[\"dense\", \"fc1\", \"fc2\"]", 6, 176, 64, family: "phi"), 64);

    private static void AssertBlockEqualsGeneralPath((CausalLM Model, Adapter Adapter) built, int hiddenSize)
    {
        var (model, adapter) = built;
        using var _m = model;
        using var _a = adapter;
        using var _ = no_grad();
        var block = adapter.MoeBlocks[0];
        var ffn = model.Layers[0].DenseMlp;
        foreach (var rows in new[] { 1, 3, 8 })
        {
            using var hidden = randn([rows, 1, hiddenSize], generator: new Generator((ulong)rows));
            var fast = DecodeExperts.TryRun(hidden, ffn, block.RouterWeight, block.Experts, block.Settings, block.ActivationName);
            Assert.NotNull(fast);
            var general = WithKernels(false, () => block.Forward(hidden, ffn, training: false));
            TensorAssert.Close(general.Hidden, fast.Hidden, 1e-5, $"{rows} rows: output");
            TensorAssert.Close(general.RouterLogits!, fast.RouterLogits!, 1e-5, $"{rows} rows: router logits");
        }
        using var nine = randn(9, 1, hiddenSize);
        Assert.Null(DecodeExperts.TryRun(nine, ffn, block.RouterWeight, block.Experts, block.Settings, block.ActivationName));
    }

    [Fact]
    public void GreedyDecodingKeepsItsTokens()
    {
        var (model, adapter) = Build("[\"q_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]", 8);
        using var _m = model;
        using var _a = adapter;
        using var _ = no_grad();
        List<long> Decode(bool kernels) => WithKernels(kernels, () =>
        {
            using var cache = new KvCache(model.Layers.Count);
            using var prompt = randint(0, 113, [2, 5], generator: new Generator(4));
            var next = model.Forward(prompt, cache: cache).Logits.select(1, -1).argmax(-1, keepdim: true);
            var ids = new List<long>();
            for (int step = 0; step < 20; step++)
            {
                ids.AddRange(next.data<long>().ToArray());
                using var output = model.Forward(next, cache: cache);
                next = output.Logits.squeeze(1).argmax(-1, keepdim: true);
            }
            return ids;
        });
        Assert.Equal(Decode(false), Decode(true));
    }
}
