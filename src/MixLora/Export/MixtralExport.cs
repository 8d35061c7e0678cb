using System.Text.Json.Nodes;
using MixLora.Adapters;
using MixLora.Config;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>
/// A MixLoRA adapter with top-k routing on a llama/mistral base, written as the Mixtral sparse-MoE model it is
/// exactly: expert e has W1ₑ = W1 + s·B1ₑA1ₑ (gate), W3ₑ = W3 + s·B3ₑA3ₑ (up), W2ₑ = W2 + s·B2ₑA2ₑ (down), and the
/// router is the adapter's <c>moe_gate</c> (softmax, top-k, renormalised in both models; no jitter at inference).
/// </summary>
internal static class MixtralExport
{
    /// <summary>Refuses, with the reason, what a Mixtral model cannot express exactly.</summary>
    public static void ThrowIfInexpressible(AdapterConfig adapter, ModelConfig baseModel)
    {
        string? reason = null;
        if (adapter.IsSwitchRouting) reason = "switch routing drops tokens above the expert capacity, which Mixtral never does";
        else if (adapter.IsDynamicRouting) reason = "dynamic (top-p) routing picks a varying number of experts per token; Mixtral picks a fixed top-k";
        else if (!adapter.IsTopKRouting) reason = $"routing strategy \"{adapter.RoutingStrategy}\" is unknown";
        else if (adapter.ExpertLora.UseDora) reason = "DoRA experts rescale each expert's weights by a learned magnitude per input, which is not a fixed expert weight of the form W + s·B·A; only the attention LoRAs may use DoRA";
        else if (baseModel.ModelType is not ("llama" or "mistral")) reason = $"the base model type is \"{baseModel.ModelType}\"; the Mixtral export takes llama and mistral bases";
        else if (baseModel.MlpBias) reason = "the base model's FFN has biases (mlp_bias), which Mixtral experts do not have";
        else if (baseModel.QkvBias || baseModel.OutputProjectionBias) reason = "the base model's attention has biases (attention_bias), which Mixtral does not have";
        if (reason is not null) throw new MixLoraException($"this MixLoRA adapter cannot be exported as a Mixtral model: {reason}");
    }

    /// <summary>The base config.json turned into a Mixtral one; every setting whose default differs between the families is written out.</summary>
    public static JsonObject Config(JsonObject baseConfig, ModelConfig b, AdapterConfig adapter)
    {
        var config = (JsonObject)baseConfig.DeepClone();
        foreach (var key in new[] { "mlp_bias", "attention_bias", "pretraining_tp", "head_dim" }) config.Remove(key);
        config["architectures"] = new JsonArray("MixtralForCausalLM");
        config["model_type"] = "mixtral";
        config["num_local_experts"] = adapter.NumExperts;
        config["num_experts_per_tok"] = adapter.EffectiveTopK;
        config["router_aux_loss_coef"] = adapter.EffectiveRouterAuxLossCoef;
        config["router_jitter_noise"] = 0.0;
        config["output_router_logits"] = false;
        config["hidden_act"] = adapter.EffectiveActFn(b);
        config["num_key_value_heads"] = b.KeyValueHeads;
        config["rope_theta"] = b.RopeBase;
        config["rms_norm_eps"] = b.RmsNormEps;
        config["max_position_embeddings"] = b.MaxPositionEmbeddings;
        config["tie_word_embeddings"] = b.TiedHead;
        config["sliding_window"] = b.SlidingWindowForLayer(0) is int window ? window : null;
        if (b.HeadDimOverride is int headDim) config["head_dim"] = headDim;
        return config;
    }

    /// <summary>
    /// Layer <paramref name="layer"/>'s MoE tensors in Mixtral's names and order: the router [E, H], then per expert
    /// w1 [I, H], w2 [H, I], w3 [I, H]. An expert without a LoRA on a projection carries the base weight.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> LayerTensors(int layer, MixLoraFeedForward block, FeedForward mlp)
    {
        string prefix = $"model.layers.{layer}.block_sparse_moe.";
        yield return new(prefix + "gate.weight", block.RouterWeight.detach().to(ScalarType.Float32).clone());
        for (int e = 0; e < block.Experts.Count; e++)
        {
            var expert = block.Experts[e];
            yield return new($"{prefix}experts.{e}.w1.weight", ExpertWeight(mlp.GateProj!, expert.GateProj));
            yield return new($"{prefix}experts.{e}.w2.weight", ExpertWeight(mlp.DownProj, expert.DownProj));
            yield return new($"{prefix}experts.{e}.w3.weight", ExpertWeight(mlp.UpProj, expert.UpProj));
        }
    }

    private static Tensor ExpertWeight(AdaptableLinear projection, LoraLinear? lora) =>
        lora is null ? projection.Weight.detach().to(ScalarType.Float32).clone() : lora.Merged(projection.Weight, null).Weight;
}
