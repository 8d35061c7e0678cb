using MixLora.Config;
using MixLora.Models;
using MixLora.Tokenization;

namespace MixLora.IO;

/// <summary>A base model loaded from a Hugging Face folder: config, frozen decoder and tokenizer.</summary>
public sealed class PretrainedModel : IDisposable
{
    public PretrainedModel(string directory, ModelConfig config, CausalLM model, ITextTokenizer tokenizer, RunOptions options, string weightsDescription,
        GenerationConfig? generation = null)
    {
        Directory = directory;
        Generation = generation;
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Options = options;
        WeightsDescription = weightsDescription;
    }

    public string Directory { get; }
    public ModelConfig Config { get; }
    public CausalLM Model { get; }
    public ITextTokenizer Tokenizer { get; }
    public RunOptions Options { get; }

    /// <summary>Which weight files were read and their stored dtype(s), for `info`.</summary>
    public string WeightsDescription { get; }

    /// <summary>The folder's generation_config.json (its end-of-turn tokens), or null when it has none.</summary>
    public GenerationConfig? Generation { get; }

    /// <summary>Token ids that end generation: the tokenizer's EOS and the eos_token_id(s) of config.json and generation_config.json.</summary>
    public IReadOnlyCollection<int> StopIds =>
        Config.EosTokenIds.Concat(Generation?.EosTokenIds ?? []).Concat(Tokenizer.EosId is int e ? [e] : []).Distinct().ToList();

    /// <summary>Loads a model folder (see <see cref="HfModelFolder.Load"/>).</summary>
    public static PretrainedModel Load(string directory, RunOptions? options = null) => HfModelFolder.Load(directory, options ?? new RunOptions());

    public void Dispose() => Model.Dispose();
}
