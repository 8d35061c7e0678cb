using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// A standalone model in memory: its Hugging Face <c>config.json</c> and float32 weights under their checkpoint names
/// (a tied head appears once, as the embedding). What <see cref="AdapterMerger"/> builds and the exporters write.
/// </summary>
public sealed class MergedModel : IDisposable
{
    public MergedModel(JsonObject config, IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
    {
        Config = config;
        Tensors = tensors;
    }

    /// <summary>The config.json of the merged model (model_type may differ from the base's: mixtral for MixLoRA).</summary>
    public JsonObject Config { get; }

    /// <summary>Float32 CPU tensors in checkpoint order.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Tensors { get; }

    public void Dispose()
    {
        foreach (var (_, tensor) in Tensors) tensor.Dispose();
    }
}
