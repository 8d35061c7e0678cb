namespace MixLora.Tests.Support;

/// <summary>Tests that run llama.cpp (through LLamaSharp) share its native library and the machine's two cores: one at a time.</summary>
[CollectionDefinition(nameof(LlamaCppCollection))]
public class LlamaCppCollection;
