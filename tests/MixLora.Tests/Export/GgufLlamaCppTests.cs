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

    /// <param name="firstPosition">The rotary position of the first token (0: a fresh sequence).</param>
    private static float[][] OurLogits(CausalLM model, IReadOnlyList<int> ids, int firstPosition = 0)
    {
        using var scope = NewDisposeScope();
        using var input = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        using var _ = no_grad();
        var positions = firstPosition == 0 ? null : arange(firstPosition, firstPosition + ids.Count, dtype: ScalarType.Int64);
        var logits = model.Forward(input, positions: positions).Logits[0];   // [1, T, V] -> [T, V]
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
    /// the qwen3 family (per-head q/k norms, llama.cpp's qwen3 architecture), tied and untied, gemma ((1 + w) norms
    /// stored as llama.cpp's converter stores them, scaled embeddings, GeGLU), phi3 (fused qkv and gate/up projections,
    /// three quarters of each head rotated, LongRoPE with its short and, in phi3-long, its long factors) and phi
    /// (llama.cpp's phi2: LayerNorm with bias, parallel attention and GELU FFN, biases everywhere, half of each head
    /// rotated, GQA).
    /// </summary>
    public static TheoryData<string> Variants => new() { "untied", "llama3-rope", "bias", "head-dim", "qwen3", "qwen3-tied", "gemma", "gemma2", "gemma3", "phi3", "phi3-long", "phi" };

    /// <summary>
    /// Phi-3 LongRoPE factors far from 1 and far from each other, so that rotating with the wrong set (or none) moves
    /// the logits by far more than the tolerance: 6 frequencies for a rotary dimension of 12 (head_dim 16 × 0.75).
    /// Measured on the "phi3" file: the long set instead of the short moves llama.cpp's logits by 2.3e-3, an attention
    /// factor of 1 instead of ours by 2.1e-3 (5.0e-3 on "phi3-long"); both variants agree with ours to 5e-7.
    /// </summary>
    private static RopeScalingConfig Phi3LongRope(double? attentionFactor = null) => new()
    {
        Type = "longrope", ShortFactor = [1, 1.5, 2, 3, 5, 8], LongFactor = [1, 2, 4, 8, 16, 40], AttentionFactor = attentionFactor,
    };

    /// <summary>The tiny random model of a <see cref="Variants"/> entry.</summary>
    internal static ModelConfig VariantConfig(string variant) => variant switch
    {
        // llama.cpp uses the long factors when its context (512 here) exceeds original_max_position_embeddings,
        // our model when the sequence (48 tokens) does: 512 for both to use the short ones. max_position_embeddings
        // 2048 gives the default attention factor √(1 + ln 4 / ln 512) ≈ 1.105; the window spans the whole context.
        "phi3" => TinyModels.Config(family: "phi3", vocab: 512, hidden: 64) with
        {
            PartialRotaryFactor = 0.75, MaxPositionEmbeddings = 2048, OriginalMaxPositionEmbeddings = 512, SlidingWindow = 2048,
            RopeScaling = Phi3LongRope(),
        },
        // 16 for both to use the long ones (context 512 and 48 tokens both beyond it), an explicit attention factor
        // (which llama.cpp's converter would not carry over: ours is written), and a tied head.
        "phi3-long" => TinyModels.Config(family: "phi3", vocab: 512, hidden: 64, tied: true) with
        {
            PartialRotaryFactor = 0.75, OriginalMaxPositionEmbeddings = 16, RopeScaling = Phi3LongRope(attentionFactor: 1.25),
        },
        "phi" => TinyModels.Config(family: "phi", vocab: 512, hidden: 64) with
        {
            RmsNormEps = null, LayerNormEps = 1e-5, HiddenAct = "gelu_new", PartialRotaryFactor = 0.5,
        },
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

    /// <summary>48 tokens: past original_max_position_embeddings (16) for llama3 rope, so the scaled frequencies matter.</summary>
    private static readonly List<int> VariantPrompt = Enumerable.Range(0, 48).Select(i => 1 + (i * 37) % 500).ToList();

    [Theory]
    [MemberData(nameof(Variants))]
    public void RandomModelVariantsGiveOurLogits(string variant)
    {
        var config = VariantConfig(variant);
        using var dir = new TempDir();
        TinyModelFolder.Write(dir.File("model"), config, seed: 5).Dispose();
        using var model = PretrainedModel.Load(dir.File("model"));
        GgufExporter.Export(model, null, dir.File("model.gguf"));
        var prompt = VariantPrompt;
        using var llama = new LlamaCpp(dir.File("model.gguf"), contextSize: 512);
        var expected = OurLogits(model.Model, prompt);
        double error = MaxError(expected, llama.Logits(prompt));
        output.WriteLine($"{variant}: max |logit difference| = {error:E2} (logits up to {expected.Max(row => row.Max(Math.Abs)):F2})");
        // Random init gives logits below 1, so 1e-3 would hide real mistakes; fp32 on both sides agrees to ~1e-7. Gemma's
        // GELU goes through llama.cpp's f16 lookup table on the CPU (about 1e-3 relative per activation): 7e-5 measured.
        // Gemma 2 norms the FFN output, which scales that error up to the residual stream's size: 4–5e-4 measured, the
        // same with the window and caps switched off (so neither adds to it). Gemma 3 (six layers, q/k norms): 1.9e-3,
        // and 2.0e-3 with five local layers only and without rope scaling, so neither the global layer nor its scaling
        // adds to it (a wrong local/global pattern, rope base or norm shift moves these logits by far more). Phi's FFN
        // is GELU too (llama.cpp's phi2 graph, the same f16 table): 4.7e-5 measured, and 2e-7 with fc2 zeroed, which
        // keeps GELU's outputs out of the residual stream, so the FFN's activation is all of it.
        double tolerance = variant switch { "gemma" => 5e-4, "gemma2" => 1e-3, "gemma3" => 3e-3, "phi" => 2e-4, _ => 1e-5 };
        Assert.True(error < tolerance, $"max logit difference {error}");
    }

    /// <summary>
    /// llama.cpp chooses Phi-3's LongRoPE factor set once, by its context size (the long factors when n_ctx per sequence
    /// exceeds phi3.rope.scaling.original_context_length), where our model (as Hugging Face) chooses per forward by the
    /// sequence. The "phi3" file (original context 512) run with a 1024-token context gives, on the same 48 tokens, the
    /// long factors' logits: our model's for the same tokens at positions 1000…1047 (RoPE scores depend on position
    /// differences only; past 512, so the long factors), and not the short factors' logits of a fresh sequence.
    /// </summary>
    [Fact]
    public void Phi3LongRopeFactorsAreChosenByLlamaCppsContextSize()
    {
        using var dir = new TempDir();
        TinyModelFolder.Write(dir.File("model"), VariantConfig("phi3"), seed: 5).Dispose();
        using var model = PretrainedModel.Load(dir.File("model"));
        GgufExporter.Export(model, null, dir.File("model.gguf"));
        var shortLogits = OurLogits(model.Model, VariantPrompt);
        var longLogits = OurLogits(model.Model, VariantPrompt, firstPosition: 1000);
        using var llama = new LlamaCpp(dir.File("model.gguf"), contextSize: 1024);
        var actual = llama.Logits(VariantPrompt);
        double error = MaxError(longLogits, actual), fromShort = MaxError(shortLogits, actual);
        output.WriteLine($"phi3, context 1024: max |logit difference| = {error:E2} from our long-factor logits, {fromShort:E2} from our short-factor ones");
        // Measured: 2.7e-7 from the long-factor logits, 2.3e-3 from the short-factor ones (random weights attend softly,
        // so rotations move these logits little; still two hundred times the bound).
        Assert.True(error < 1e-5, $"max logit difference {error} from the long-factor logits");
        Assert.True(fromShort > 1e-3, $"the factor sets barely differ ({fromShort}), so this test could not tell them apart");
    }

    /// <summary>
    /// Why the export refuses a Phi-3 window shorter than max_position_embeddings: llama.cpp's phi3 graph reads
    /// phi3.attention.sliding_window and attends to the whole context anyway. The "phi3" file rewritten to say a window
    /// of 5 still gives our model's logits without a window, not those of our model with a window of 5.
    /// </summary>
    [Fact]
    public void LlamaCppsPhi3GraphIgnoresTheSlidingWindow()
    {
        using var dir = new TempDir();
        var config = VariantConfig("phi3");
        TinyModelFolder.Write(dir.File("model"), config, seed: 5).Dispose();
        using var model = PretrainedModel.Load(dir.File("model"));
        GgufExporter.Export(model, null, dir.File("model.gguf"));
        var header = MixLora.IO.Gguf.GgufReader.ReadHeader(dir.File("model.gguf"));
        Assert.Equal(2048u, header.Metadata["phi3.attention.sliding_window"]);
        var metadata = header.Metadata.Select(kv => kv.Key == "phi3.attention.sliding_window" ? new KeyValuePair<string, object>(kv.Key, 5u) : kv).ToList();
        using (var scope = NewDisposeScope())
        {
            var tensors = header.Tensors.Select(t => new MixLora.IO.Gguf.GgufTensorData(t.Name, MixLora.IO.Gguf.GgufTensors.Load(dir.File("model.gguf"), header, t), t.Type)).ToList();
            MixLora.IO.Gguf.GgufWriter.Write(dir.File("window5.gguf"), metadata, tensors);
        }
        using var windowed = TinyModels.Create(config with { SlidingWindow = 5 }, seed: 5);   // the same weights, a window of 5
        using var llama = new LlamaCpp(dir.File("window5.gguf"), contextSize: 512);
        var actual = llama.Logits(VariantPrompt);
        double error = MaxError(OurLogits(model.Model, VariantPrompt), actual), fromWindowed = MaxError(OurLogits(windowed, VariantPrompt), actual);
        output.WriteLine($"phi3 file saying window 5: {error:E2} from our logits without a window, {fromWindowed:E2} from ours with it");
        Assert.True(error < 1e-5, $"max logit difference {error} from the whole-context logits");
        Assert.True(fromWindowed > 0.01, $"a window of 5 barely changes the logits ({fromWindowed}), so this test could not tell");
    }
}
