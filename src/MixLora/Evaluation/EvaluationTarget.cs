using MixLora.Adapters;

namespace MixLora.Evaluation;

/// <summary>A model variant to evaluate: the base model (<paramref name="Adapter"/> null) or the base with one adapter.</summary>
/// <param name="Name">Name in results (adapter_name).</param>
public sealed record EvaluationTarget(string Name, Adapter? Adapter);
