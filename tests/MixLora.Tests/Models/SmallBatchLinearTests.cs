using MixLora.Models;
using MixLora.Models.Kernels;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Models;

/// <summary>
/// The decode kernel computes what libtorch's linear computes (within float32 summation-order differences), takes
/// only what it can, and decoding with it gives the tokens decoding without it gives.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class SmallBatchLinearTests
{
    public static TheoryData<int, int, int, bool> Shapes => new()
    {
        { 1, 1024, 2816, false },  // the benchmark's up projection at batch 1
        { 3, 64, 37, true },       // rows not a multiple of the chunk, a bias
        { 8, 40, 100, false },     // inner size a multiple of 8 but not of 32: the tail loop
        { 5, 256, 1, true },
        { 6, 48, 5, true },        // a group of four input rows plus two; three weight rows then two
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EqualsLibtorchLinear(int rows, int inF, int outF, bool withBias)
    {
        var g = new Generator(17);
        using var x = randn([rows, 1, inF], generator: g);
        using var w = randn([outF, inF], generator: g);
        using var b = withBias ? randn([outF], generator: g) : null;
        using var _ = no_grad();
        using var expected = nn.functional.linear(x, w, b);
        using var actual = SmallBatchLinear.TryForward(x, w, b);
        Assert.NotNull(actual);
        Assert.Equal(expected.shape, actual.shape);
        // Different summation order: float32 rounding relative to the size of the terms (|x||w| ~ sqrt(in)).
        TensorAssert.Close(expected, actual, 2e-6 * inF, "kernel vs linear");
    }

    [Fact]
    public void WhatItCannotTakeGoesToLibtorch()
    {
        using var w = randn(16, 32);
        using var x = randn(1, 32);
        using (no_grad())
        {
            Assert.Null(SmallBatchLinear.TryForward(randn(9, 32), w, null));                         // more than 8 rows
            Assert.Null(SmallBatchLinear.TryForward(randn(1, 12), randn(16, 12), null));               // inner size not a multiple of 8
            Assert.Null(SmallBatchLinear.TryForward(x, randn(32, 16).t(), null));                      // a transposed (non-contiguous) weight
            Assert.Null(SmallBatchLinear.TryForward(x.to(ScalarType.Float64), w.to(ScalarType.Float64), null));
        }
        using var trainable = randn(1, 32, requires_grad: true);
        Assert.Null(SmallBatchLinear.TryForward(trainable, w, null));                                 // gradients needed
    }

    [Fact]
    public void AFewTokensForwardRunsLibtorchOnOneThreadAndRestoresIt()
    {
        int before = get_num_threads();
        using var model = TinyModels.Create(TinyModels.Config(), seed: 2);
        using var _ = no_grad();
        if (before > 1)
        {
            using (var scope = FewTokensScope.Enter(1, model.LmHeadWeight))
            {
                Assert.Equal(1, get_num_threads());
                Assert.Equal(before, FewTokensScope.KernelThreads);
                using (FewTokensScope.Enter(1, model.LmHeadWeight)) Assert.Equal(1, get_num_threads());   // nested: a no-op
                Assert.Equal(1, get_num_threads());
            }
        }
        using (var o = model.Forward(tensor(new long[] { 1, 2 }).unsqueeze(0))) { }
        Assert.Equal(before, get_num_threads());
    }

    [Fact]
    public void ADecodeStepScopeHoldsLibtorchToOneThreadOnlyWhereTheKernelsApply()
    {
        int before = get_num_threads();
        set_num_threads(2); // the scope matters only with several threads
        try
        {
            using var model = TinyModels.Create(TinyModels.Config(), seed: 2);
            using (model.DecodeStep(8)) Assert.Equal(2, get_num_threads());                 // gradients on: training, no kernels
            using var _ = no_grad();
            using (model.DecodeStep(SmallBatchLinear.MaxRows + 1)) Assert.Equal(2, get_num_threads()); // too many rows
            using (model.DecodeStep(8))
            {
                Assert.Equal(1, get_num_threads());
                using (var o = model.Forward(tensor(new long[] { 1, 2 }).unsqueeze(0))) { }  // the forward's own scope nests
                Assert.Equal(1, get_num_threads());
            }
            Assert.Equal(2, get_num_threads());
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void DecodingWithTheKernelGivesTheTokensOfDecodingWithout()
    {
        using var model = TinyModels.Create(TinyModels.Config(hidden: 64, layers: 3, vocab: 211) with { IntermediateSize = 176 }, seed: 9);
        using var _ = no_grad();
        List<long> Decode(bool kernel, int rows)
        {
            SmallBatchLinear.Enabled = kernel;
            try
            {
                using var cache = new KvCache(model.Layers.Count);
                using var prompt = randint(0, 211, [rows, 6], generator: new Generator(3));
                var next = model.Forward(prompt, cache: cache).Logits.select(1, -1).argmax(-1, keepdim: true);   // [rows, 1]
                var ids = new List<long>();
                for (int step = 0; step < 24; step++)
                {
                    ids.AddRange(next.data<long>().ToArray());
                    using var output = model.Forward(next, cache: cache);
                    next = output.Logits.squeeze(1).argmax(-1, keepdim: true);
                }
                return ids;
            }
            finally
            {
                SmallBatchLinear.Enabled = true;
            }
        }
        Assert.Equal(Decode(kernel: false, rows: 1), Decode(kernel: true, rows: 1));
        Assert.Equal(Decode(kernel: false, rows: 4), Decode(kernel: true, rows: 4));
    }

    [Fact]
    public void ConcurrentDecodersShareTheWorkersSafely()
    {
        using var w = randn(3000, 512, generator: new Generator(5));
        var inputs = Enumerable.Range(0, 4).Select(i => randn([1, 512], generator: new Generator((ulong)(10 + i)))).ToArray();
        float[][] expected;
        using (no_grad()) expected = inputs.Select(x => nn.functional.linear(x, w).data<float>().ToArray()).ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, i =>
        {
            using var _ = no_grad();
            for (int repeat = 0; repeat < 50; repeat++)
            {
                using var y = SmallBatchLinear.TryForward(inputs[i], w, null)!;
                results[i] = y.data<float>().ToArray();
            }
        });
        for (int i = 0; i < 4; i++)
            Assert.True(expected[i].Zip(results[i]).Max(p => Math.Abs(p.First - p.Second)) < 1e-3, $"caller {i}");
        foreach (var x in inputs) x.Dispose();
    }
}
