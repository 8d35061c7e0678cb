using MixLora.Benchmarks.Harness;
using MixLora.Benchmarks.TrainStep;

namespace MixLora.Benchmarks.Decode;

/// <summary>The command line of the decode case.</summary>
public sealed record DecodeOptions
{
    public required TrainStepShape Shape { get; init; }
    public int Threads { get; init; }
    public int PromptTokens { get; init; }
    public int NewTokens { get; init; }
    public string? Output { get; init; }
    public bool Help { get; init; }
    /// <summary>A model folder to measure instead of the random model of the shape.</summary>
    public string? ModelDir { get; init; }
    /// <summary>With <see cref="ModelDir"/>: the adapter measured beside the base model.</summary>
    public string? AdapterDir { get; init; }
    /// <summary>The GGUF llama.cpp runs (the same base model); default: the benchmark exports its base model itself.</summary>
    public string? Gguf { get; init; }
    public bool LlamaCpp { get; init; } = true;

    /// <summary>The random model's family: llama, phi3, gemma3_text or phi (see <see cref="TrainStepShape.ModelConfig"/>).</summary>
    public string Family { get; init; } = "llama";

    public static string Usage => """
        decode: inference speed of base, LoRA (r=80) and MixLoRA fused (E=8 top-2 r=16) at a train-step shape (random weights),
                and of llama.cpp (LLamaSharp) on the same base model exported as an f32 GGUF
          --quick | --full        shape (default --full: hidden 1024, 8 layers, vocab 32000)
          --family llama|phi3|gemma3_text|phi
                                  the random model's family (default llama; phi3: fused qkv_proj and gate_up_proj,
                                  adapters on qkv_proj, o_proj, gate_up_proj, down_proj; gemma3_text: Gemma 3's
                                  layers, GeGLU experts, tied head; phi: LayerNorm, parallel block, half-rotary heads,
                                  biased fc1/fc2 experts)
          --model DIR             measure this Hugging Face folder instead (base model, plus --adapter DIR when given)
          --adapter DIR           with --model: the adapter measured beside the base
          --gguf FILE             the GGUF of the same base model for llama.cpp (default: exported by the benchmark)
          --no-llama-cpp          skip the llama.cpp columns
          --threads N             torch threads (default 2)
          --prompt-tokens N       prompt length for the prefill (default 512 full, 128 quick)
          --new-tokens N          greedy tokens decoded with the KV cache after the prefill (default 128 full, 32 quick)
          --output FILE           result JSON (default bench/results/decode-latest.json); a .md table is written next to it
          --help                  this text
        """;

    public static DecodeOptions Parse(string[] args)
    {
        var options = new OptionReader("decode", args,
            flags: ["--quick", "--full", "--tiny", "--help", "-h", "--no-llama-cpp"],
            valued: ["--threads", "--prompt-tokens", "--new-tokens", "--output", "--model", "--adapter", "--gguf", "--family"]);
        var shape = TrainStepShape.FromOptions(options);
        // Defaults per shape: the full shape's prompt is twice its training sequence; tiny stays within a second.
        var (prompt, fresh) = shape.Name switch { "full" => (512, 128), "quick" => (128, 32), _ => (32, 16) };
        var parsed = new DecodeOptions
        {
            Shape = shape,
            Threads = options.Int("--threads", 2, min: 1),
            PromptTokens = options.Int("--prompt-tokens", prompt, min: 1),
            NewTokens = options.Int("--new-tokens", fresh, min: 1),
            Output = options.String("--output"),
            Help = options.Flag("--help") || options.Flag("-h"),
            ModelDir = options.String("--model"),
            AdapterDir = options.String("--adapter"),
            Gguf = options.String("--gguf"),
            LlamaCpp = !options.Flag("--no-llama-cpp"),
            Family = options.String("--family") ?? "llama",
        };
        if (parsed.Family is not ("llama" or "phi3" or "gemma3_text" or "phi"))
            throw options.Error($"--family must be llama, phi3, gemma3_text or phi, got \"{parsed.Family}\"");
        if (parsed.AdapterDir is not null && parsed.ModelDir is null) throw options.Error("--adapter needs --model (the random models come with their own adapters)");
        int context = parsed.ModelDir is null ? shape.ModelConfig().MaxPositionEmbeddings : int.MaxValue;
        if (parsed.PromptTokens + parsed.NewTokens + 1 > context)
            throw options.Error($"--prompt-tokens {parsed.PromptTokens} + --new-tokens {parsed.NewTokens} + 1 exceed the model's context of {context} positions");
        return parsed;
    }
}
