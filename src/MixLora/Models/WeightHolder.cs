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
    // Named as registered: TorchSharp's Module.to(device or dtype) swaps in the moved tensor only for a field of that name.
    private readonly Parameter? weight;
    private readonly Parameter? bias;

    /// <summary>Usually a weight; a tied Phi head holds its bias alone (weight null).</summary>
    public WeightHolder(string name, Parameter? weight, Parameter? bias = null) : base(name)
    {
        this.weight = weight;
        this.bias = bias;
        if (this.weight is not null) register_parameter("weight", this.weight);
        if (this.bias is not null) register_parameter("bias", this.bias);
    }

    /// <summary>The weight (null only in a bias-only holder).</summary>
    public Parameter Weight => weight!;

    /// <summary>The weight, or null in a bias-only holder.</summary>
    public Parameter? OptionalWeight => weight;
    public Parameter? Bias => bias;
}
