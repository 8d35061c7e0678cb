namespace MixLora.Adapters;

/// <summary>How a MixLoRA router picks experts for a token (config key <c>routing_strategy</c>, spec §1.4, §1.8, §1.9).</summary>
public enum RoutingStrategy
{
    /// <summary>"mixlora": the K most probable experts, weights renormalised to sum to 1.</summary>
    TopK,

    /// <summary>"mixlora-switch": the most probable expert, per-sequence capacity, output scaled by its probability.</summary>
    Switch,

    /// <summary>"mixlora-dynamic": the smallest prefix of experts (by probability) whose mass crosses top_p; raw weights.</summary>
    Dynamic,
}
