namespace MixLora.Adapters;

/// <summary>
/// The LoRAs of one MixLoRA expert: the expert is the frozen base FFN with these applied. A null projection is not
/// targeted and uses the base weight alone. Phi-3's experts have one LoRA on the stacked W1/W3 (gate_up_proj)
/// instead of two; Phi's have fc1 in <see cref="UpProj"/>'s place and fc2 in <see cref="DownProj"/>'s.
/// </summary>
public sealed class ExpertLoras
{
    /// <summary>LoRA on gate_proj (W1).</summary>
    public LoraLinear? GateProj { get; init; }

    /// <summary>LoRA on up_proj (W3; Phi: fc1).</summary>
    public LoraLinear? UpProj { get; init; }

    /// <summary>LoRA on down_proj (W2; Phi: fc2); it sees the expert's activated product act(W1 x) ⊙ W3 x.</summary>
    public LoraLinear? DownProj { get; init; }

    /// <summary>Phi-3: LoRA on gate_up_proj, whose output [.., 2I] is W1's part then W3's.</summary>
    public LoraLinear? GateUpProj { get; init; }

    /// <summary>Whether any LoRA reads the expert's input x (and not only its activated product).</summary>
    public bool HasInputLora => GateProj is not null || UpProj is not null || GateUpProj is not null;

    /// <summary>The expert's LoRAs, whichever are set.</summary>
    public IEnumerable<LoraLinear> All => new[] { GateProj, UpProj, DownProj, GateUpProj }.OfType<LoraLinear>();
}
