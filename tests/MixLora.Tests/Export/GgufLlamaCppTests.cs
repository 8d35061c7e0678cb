using MixLora.Config;
using System.Text.Json;
using MixLora.Adapters;
using MixLora.Export;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Models;
using MixLora.Tests.Cli;
using MixLora.Benchmarks.ExportDecode;
using MixLora.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MixLora.Tests.Export;

/// <summary>Our exported GGUF files run in llama.cpp (LLamaSharp) and give our decoder's logits and greedy tokens.</summary>
[Collection(nameof(LlamaCppCollection))]
public class GgufLlamaCppTests(ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-3;

    /// <summary>A story prompt in stories260K's tok512 ids (BOS first), long enough to cover many rotary positions.</summary>
    private static IReadOnlyList<int> Prompt(PretrainedModel model) =>
        model.Tokenizer.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.");

    private static float[][] OurLogits(CausalLM model, IReadOnlyList<int> ids)
    {
        using var scope = NewDisposeScope();
        using var input = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        using var _ = no_grad();
        var logits = model.Forward(input).Logits[0];                      // [1, T, V] -> [T, V]
        return Enumerable.Range(0, ids.Count).Select(t => logits[t].data<float>().ToArray()).ToArray();
    }

    private static List<int> OurGreedy(CausalLM model, IReadOnlyList<int> prompt, int steps) =>
        new TokenGenerator(model).Generate(prompt.ToList(), new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.0, MaxNewTokens = steps }, []).ToList();

    internal static double MaxError(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            for (int v = 0; v < expected[t].Length; v++) max = Math.Max(max, Math.Abs(expected[t][v] - actual[t][v]));
        }
        return max;
    }

    private static int[] Llama2cGreedy()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Asset("stories260K", "expected_greedy_256.json")));
        return doc.RootElement.GetProperty("generated_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    [Fact]
    public void Stories260KF32GivesOurLogitsAtEveryPositionAndLlama2cGreedyStory()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("export", "gguf", "--model", Stories260K.Dir, "--output", dir.File("model.gguf"));
        Assert.True(result.ExitCode == 0, result.Err);
        using var model = Stories260K.Load();
        var prompt = Prompt(model);
        using var llama = new LlamaCpp(dir.File("model.gguf"));
        double error = MaxError(OurLogits(model.Model, prompt), llama.Logits(prompt));
        output.WriteLine($"stories260K f32: max |logit difference| over {prompt.Count} positions x 512 = {error:E2}");
        Assert.True(error < LogitTolerance, $"max logit difference {error}");
        var expected = Llama2cGreedy();
        Assert.Equal(256, expected.Length);
        Assert.Equal(expected, llama.Greedy([1], 256));
    }

    [Theory]
    [MemberData(nameof(AdapterMergerTests.Adapters), MemberType = typeof(AdapterMergerTests))]
    public void MergedAdapterGivesTheAdaptedLogits(string keys)
    {
        using var dir = new TempDir();
        var adapterDir = AdapterMergerTests.TrainedLike(dir, keys);
        using var model = Stories260K.Load();
        var prompt = Prompt(model);
        float[][] baseLogits = OurLogits(model.Model, prompt), expected;
        using (var adapter = Adapter.Load(model.Model, adapterDir))
        {
            expected = OurLogits(model.Model, prompt);
            GgufExporter.Export(model, adapter, dir.File("merged.gguf"));
        }
        // The adapter must matter, or this test could not tell a merged file from the base one.
        Assert.True(MaxError(baseLogits, expected) > 0.1, "the random adapter barely changes the logits");
        using var llama = new LlamaCpp(dir.File("merged.gguf"));
        double error = MaxError(expected, llama.Logits(prompt));
        output.WriteLine($"{keys}: max |logit difference| = {error:E2}");
        Assert.True(error < LogitTolerance, $"max logit difference {error}");
    }

    /// <summary>
    /// The first check of our MixLoRA forward by an engine that is not ours: the golden adapter (trained by the reference
    /// code) exported as a Mixtral-layout MoE file runs in llama.cpp's MoE graph and gives our adapter's logits.
    /// </summary>
    [Fact]
    public void GoldenMixLoraAsMoeGgufGivesOurAdapterLogits()
    {
        using var dir = new TempDir();
        using var model = Stories260K.Load();
        var prompt = Prompt(model);
        float[][] baseLogits = OurLogits(model.Model, prompt), expected;
        List<int> expectedGreedy;
        using (var adapter = Adapter.Load(model.Model, RepoPaths.Asset("golden", "mixlora-stories260K", "adapter")))
        {
            expected = OurLogits(model.Model, prompt);
            expectedGreedy = OurGreedy(model.Model, [1], 64);
        }
        var result = CliRunner.Run("export", "gguf", "--model", Stories260K.Dir, "--adapter", RepoPaths.Asset("golden", "mixlora-stories260K", "adapter"),
            "--output", dir.File("moe.gguf"));
        Assert.True(result.ExitCode == 0, result.Err);
        var header = MixLora.IO.Gguf.GgufReader.ReadHeader(dir.File("moe.gguf"));
        Assert.Contains(header.Tensors, t => t.Name == "blk.0.ffn_gate_exps.weight");
        Assert.True(MaxError(baseLogits, expected) > 0.01, "the adapter barely changes the logits");
        using var llama = new LlamaCpp(dir.File("moe.gguf"));
        double error = MaxError(expected, llama.Logits(prompt));
        output.WriteLine($"golden MixLoRA as MoE GGUF: max |logit difference| over {prompt.Count} positions = {error:E2}");
        Assert.True(error < LogitTolerance, $"max logit difference {error}");
        Assert.Equal(expectedGreedy, llama.Greedy([1], 64));
    }

    [Theory]
    [InlineData("f16", 0.05)]
    [InlineData("q8_0", 0.6)]
    public void ReducedPrecisionFilesKeepTheGreedyTokens(string type, double bound)
    {
        using var dir = new TempDir();
        using var model = Stories260K.Load();
        GgufExporter.Export(model, null, dir.File("model.gguf"), type);
        var prompt = Prompt(model);
        using var llama = new LlamaCpp(dir.File("model.gguf"));
        double error = MaxError(OurLogits(model.Model, prompt), llama.Logits(prompt));
        output.WriteLine($"stories260K {type}: max |logit difference| vs our f32 = {error:E2}");
        Assert.True(error < bound, $"max logit difference {error}");
        Assert.Equal(OurGreedy(model.Model, [1], 32), llama.Greedy([1], 32));
    }

    /// <summary>
    /// Random tiny models with what stories260K lacks: untied head, llama3 rope scaling, biases, head_dim ≠ hidden/heads,
    /// the qwen3 family (per-head q/k norms, llama.cpp's qwen3 architecture), tied and untied, and gemma ((1 + w) norms
    /// stored as llama.cpp's converter stores them, scaled embeddings, GeGLU).
    /// </summary>
    public static TheoryData<string> Variants => new() { "untied", "llama3-rope", "bias", "head-dim", "qwen3", "qwen3-tied", "gemma", "gemma2", "gemma3" };

    [Theory]
    [MemberData(nameof(Variants))]
    public void RandomModelVariantsGiveOurLogits(string variant)
    {
        var config = variant switch
        {
            "untied" => TinyModels.Config(vocab: 512, hidden: 64),
            "llama3-rope" => TinyModels.Config(vocab: 512, hidden: 64, llama3Rope: true) with { MaxPositionEmbeddings = 256 },
            "bias" => TinyModels.Config(vocab: 512, hidden: 64, bias: true),
            "qwen3" => TinyModels.Config(family: "qwen3", vocab: 512, hidden: 64) with { HeadDimOverride = 32 },
            "qwen3-tied" => TinyModels.Config(family: "qwen3", vocab: 512, hidden: 64, tied: true),
            "gemma" => TinyModels.Config(family: "gemma", vocab: 512, hidden: 64, tied: true) with { HeadDimOverride = 32 },
            // Soft caps that bite on these logits, a window of 5 on the 48-token prompt, scores scaled by head_dim^−½.
            // Six layers: five local (window 5, base 10,000) and a global one (its own base, linear scaling), q/k norms.
            "gemma3" => TinyModels.Config(family: "gemma3_text", vocab: 512, hidden: 64, tied: true, layers: 6) with
            {
                HeadDimOverride = 32, QueryPreAttnScalar = 32, SlidingWindow = 5, SlidingWindowPattern = 6, RopeTheta = 50_000,
                RopeLocalBaseFreq = 10_000, RopeScaling = new RopeScalingConfig { RopeType = "linear", Factor = 4 },
            },
            "gemma2" => TinyModels.Config(family: "gemma2", vocab: 512, hidden: 64, tied: true) with
            {
                HeadDimOverride = 32, QueryPreAttnScalar = 32, SlidingWindow = 5,
                AttnLogitSoftcapping = Models.Families.FamilyConfigs.Number(0.5), FinalLogitSoftcapping = Models.Families.FamilyConfigs.Number(2.0),
            },
            _ => TinyModels.Config(vocab: 512, hidden: 64) with { HeadDimOverride = 32 },
        };
        using var dir = new TempDir();
        TinyModelFolder.Write(dir.File("model"), config, seed: 5).Dispose();
        using var model = PretrainedModel.Load(dir.File("model"));
        GgufExporter.Export(model, null, dir.File("model.gguf"));
        // Past original_max_position_embeddings (16) for llama3 rope, so the scaled frequencies matter.
        var prompt = Enumerable.Range(0, 48).Select(i => 1 + (i * 37) % 500).ToList();
        using var llama = new LlamaCpp(dir.File("model.gguf"));
        var expected = OurLogits(model.Model, prompt);
        double error = MaxError(expected, llama.Logits(prompt));
        output.WriteLine($"{variant}: max |logit difference| = {error:E2} (logits up to {expected.Max(row => row.Max(Math.Abs)):F2})");
        // Random init gives logits below 1, so 1e-3 would hide real mistakes; fp32 on both sides agrees to ~1e-7. Gemma's
        // GELU goes through llama.cpp's f16 lookup table on the CPU (about 1e-3 relative per activation): 7e-5 measured.
        // Gemma 2 norms the FFN output, which scales that error up to the residual stream's size: 4–5e-4 measured, the
        // same with the window and caps switched off (so neither adds to it). Gemma 3 (six layers, q/k norms): 1.9e-3,
        // and 2.0e-3 with five local layers only and without rope scaling, so neither the global layer nor its scaling
        // adds to it (a wrong local/global pattern, rope base or norm shift moves these logits by far more).
        double tolerance = variant switch { "gemma" => 5e-4, "gemma2" => 1e-3, "gemma3" => 3e-3, _ => 1e-5 };
        Assert.True(error < tolerance, $"max logit difference {error}");
    }
}
