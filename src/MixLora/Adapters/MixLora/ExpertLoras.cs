namespace MixLora.Adapters;

/// <summary>
/// The LoRAs of one MixLoRA expert: the expert is the frozen base FFN with these applied. A null projection is not
/// targeted and uses the base weight alone.
/// </summary>
public sealed class ExpertLoras
{
    /// <summary>LoRA on gate_proj (W1).</summary>
    public LoraLinear? GateProj { get; init; }

    /// <summary>LoRA on up_proj (W3).</summary>
    public LoraLinear? UpProj { get; init; }

    /// <summary>LoRA on down_proj (W2); it sees the expert's activated product act(W1 x) ⊙ W3 x.</summary>
    public LoraLinear? DownProj { get; init; }
}
