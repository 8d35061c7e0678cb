using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// A module that holds one parameter under the name "weight" (and optionally a "bias"), so a lone matrix gets its
/// checkpoint name (<c>lm_head.weight</c>, <c>model.embed_tokens.weight</c>, <c>block_sparse_moe.gate.weight</c>).
/// </summary>
internal sealed class WeightHolder : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;

    public WeightHolder(string name, Parameter weight, Parameter? bias = null) : base(name)
    {
        _weight = weight;
        _bias = bias;
        register_parameter("weight", weight);
        if (bias is not null) register_parameter("bias", bias);
    }

    public Parameter Weight => _weight;
    public Parameter? Bias => _bias;
}
