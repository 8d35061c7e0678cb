namespace MixLora.Data;

/// <summary>
/// One record of an instruction data file (Alpaca / MoE-PEFT fields). <see cref="Answer"/> is the extra field of the
/// LLM-Adapters commonsense files (e.g. "answer2", "true"); null elsewhere.
/// </summary>
public sealed record InstructionRecord(string Instruction, string Input, string Output, string? Answer = null);
