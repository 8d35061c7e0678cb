namespace MixLora.IO;

/// <summary>The weight file an adapter folder is saved with.</summary>
public enum AdapterWeightFormat
{
    /// <summary><c>adapter_model.bin</c> (torch.save zip), what MoE-PEFT/mLoRA and mixlora-pkg read.</summary>
    Bin,

    /// <summary><c>adapter_model.safetensors</c>, what Hugging Face PEFT writes by default.</summary>
    SafeTensors,
}
