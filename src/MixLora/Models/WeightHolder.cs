using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// A module that holds one parameter under the name "weight", so a lone matrix gets its checkpoint name
/// (<c>lm_head.weight</c>, <c>model.embed_tokens.weight</c>, <c>block_sparse_moe.gate.weight</c>).
/// </summary>
internal sealed class WeightHolder : nn.Module
{
    private readonly Parameter _weight;

    public WeightHolder(string name, Parameter weight) : base(name)
    {
        _weight = weight;
        register_parameter("weight", weight);
    }

    public Parameter Weight => _weight;
}
