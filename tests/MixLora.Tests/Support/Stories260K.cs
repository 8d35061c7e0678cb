using MixLora.Config;
using MixLora.IO;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Tests.Support;

/// <summary>The bundled pretrained stories260K model (assets/stories260K-hf).</summary>
public static class Stories260K
{
    public static string Dir => RepoPaths.Asset("stories260K-hf");

    /// <summary>The decoder alone (fp32, CPU, eval mode); the caller disposes it.</summary>
    public static CausalLM LoadModel()
    {
        var config = ModelConfig.Load(Path.Combine(Dir, "config.json"));
        var tensors = SafeTensorsFile.Load(Path.Combine(Dir, "model.safetensors"), ScalarType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value);
        var source = new StateDictWeightSource(tensors, Dir);
        var model = CausalLM.Create(config, source);
        source.ThrowIfIncomplete();
        model.eval();
        return model;
    }
}
