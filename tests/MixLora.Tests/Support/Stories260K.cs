using MixLora.Config;
using MixLora.IO;
using MixLora.Models;

namespace MixLora.Tests.Support;

/// <summary>The bundled pretrained stories260K model (assets/stories260K-hf), loaded through the product loader.</summary>
public static class Stories260K
{
    public static string Dir => RepoPaths.Asset("stories260K-hf");

    /// <summary>Model and tokenizer (fp32, CPU, eval mode); the caller disposes it.</summary>
    public static PretrainedModel Load() => PretrainedModel.Load(Dir, new RunOptions());

    /// <summary>The decoder alone; the caller disposes it.</summary>
    public static CausalLM LoadModel() => Load().Model;
}
