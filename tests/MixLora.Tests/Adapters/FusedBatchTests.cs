using MixLora.Adapters;
using MixLora.Models;
using MixLora.Tests.Support;
using MixLora.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>m-LoRA fused batches: several adapters share one forward/backward of the frozen base on disjoint rows.</summary>
public class FusedBatchTests
{
    [Fact]
    public void FusedForwardAndBackwardEqualSeparateRuns()
    {
        using var model = Stories260K.LoadModel();
        var configs = new[]
        {
            AdapterTests.Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2"),
            AdapterTests.Config("\"peft_type\": \"LORA\""),
            AdapterTests.Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora-dynamic\", \"num_experts\": 3, \"top_p\": 0.6"),
        };
        var adapters = configs.Select((c, i) => Adapter.Create(model, c, new AdapterOptions { Seed = i + 1 })).ToList();
        var generator = new Generator(5);
        using (no_grad())
            foreach (var adapter in adapters)
                foreach (var (name, p) in adapter.NamedTensors)
                    if (name.Contains("lora_B")) p.copy_(randn(p.shape, generator: generator) * 0.05);

        // Rows: adapter 0 -> 2 rows, adapter 1 -> 1 row, adapter 2 -> 2 rows; right padding in row 1 and 4.
        using var ids = randint(3, 512, [5, 9], generator: new Generator(8));
        using var mask = ones([5, 9], dtype: ScalarType.Int64);
        using (no_grad()) { mask[1].narrow(0, 6, 3).fill_(0); mask[4].narrow(0, 4, 5).fill_(0); }
        var rows = new[] { new AdapterRows(adapters[0], 0, 2), new AdapterRows(adapters[1], 2, 1), new AdapterRows(adapters[2], 3, 2) };

        // Fused: one forward, per-adapter losses summed, one backward.
        using (var output = model.Forward(ids, mask, rows: rows))
        {
            Tensor total = zeros(1);
            foreach (var r in rows)
            {
                var adapter = (Adapter)r.Owner;
                var logits = output.Logits.narrow(0, r.Start, r.Count);
                var loss = CausalLmLoss.Compute(logits, ids.narrow(0, r.Start, r.Count), mask.narrow(0, r.Start, r.Count));
                var aux = adapter.AuxiliaryLoss(output.RouterLogitsOf(adapter), mask.narrow(0, r.Start, r.Count));
                total = total + loss + (aux ?? zeros(1));
            }
            total.backward();
        }
        // An expert that no token of the slice selected has no gradient in either run.
        var fusedGrads = adapters.Select(a => a.NamedTensors.ToDictionary(kv => kv.Key, kv => kv.Value.grad?.clone())).ToList();
        Assert.All(fusedGrads, g => Assert.True(g.Values.Count(v => v is not null) > g.Count / 2));
        var fusedLogits = new List<Tensor>();

        // Separate: each adapter alone on its own rows.
        foreach (var a in adapters) { a.Detach(); foreach (var p in a.TrainableParameters()) p.grad?.zero_(); }
        foreach (var (r, i) in rows.Select((r, i) => (r, i)))
        {
            var adapter = adapters[i];
            adapter.Attach();
            using var rowIds = ids.narrow(0, r.Start, r.Count);
            using var rowMask = mask.narrow(0, r.Start, r.Count);
            using var output = model.Forward(rowIds, rowMask);
            using var loss = CausalLmLoss.Compute(output.Logits, rowIds, rowMask);
            var aux = adapter.AuxiliaryLoss(output.RouterLogits, rowMask);
            using var total = aux is null ? loss.alias() : loss + aux;
            total.backward();
            foreach (var (name, p) in adapter.NamedTensors)
            {
                if (fusedGrads[i][name] is { } expected) TensorAssert.Close(expected, p.grad!, 1e-5, $"adapter {i} gradient of {name}");
                else Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0, $"adapter {i}: {name} has a gradient only when run alone");
            }
            adapter.Detach();
        }
        foreach (var a in adapters) a.Dispose();
    }

    [Fact]
    public void RowsWithoutAnAdapterGetTheBaseModel()
    {
        using var model = Stories260K.LoadModel();
        using var adapter = Adapter.Create(model, AdapterTests.Config("\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2"));
        using (no_grad()) foreach (var (name, p) in adapter.NamedTensors) if (name.Contains("lora_B")) p.fill_(0.05);
        using var _ = no_grad();
        using var ids = GoldenData.Get("input_ids_1").unsqueeze(0).expand(2, -1).contiguous();
        using var output = model.Forward(ids, rows: [new AdapterRows(adapter, 1, 1)]);
        TensorAssert.Close(GoldenData.Get("base_logits_1"), output.Logits[0], 1e-4, "row 0 (no adapter) = base model");
        Assert.True(TensorAssert.MaxAbsDiff(GoldenData.Get("base_logits_1"), output.Logits[1]) > 1e-3);
        Assert.Equal(5, output.RouterLogitsOf(adapter).Count);
    }
}
