namespace MixLora.Data;

/// <summary>
/// One example of the bundled demo dataset: the task it belongs to, the instruction (the question without the
/// prompt frame) and the expected one-word answer. <see cref="DemoDataset.Prompt"/> and
/// <see cref="DemoDataset.FullText"/> turn it into training/evaluation text.
/// </summary>
public sealed record DemoRecord(string Task, string Instruction, string Output);
