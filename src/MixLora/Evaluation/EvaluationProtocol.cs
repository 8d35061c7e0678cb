namespace MixLora.Evaluation;

/// <summary>How a multiple-choice answer is read from the model.</summary>
public enum EvaluationProtocol
{
    /// <summary>The reference's rule (spec §8.4): argmax of the next-token logits after the answer cue, restricted to the candidate tokens.</summary>
    Choice,

    /// <summary>LLM-Adapters/DoRA style: greedy generation, then the first candidate answer word found in the output.</summary>
    Generate,
}

/// <summary>Parses <see cref="EvaluationProtocol"/> names given on the command line.</summary>
public static class EvaluationProtocols
{
    /// <exception cref="MixLoraException">Neither "choice" nor "generate".</exception>
    public static EvaluationProtocol Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "choice" => EvaluationProtocol.Choice,
        "generate" => EvaluationProtocol.Generate,
        _ => throw new MixLoraException($"unknown evaluation protocol \"{name}\" (valid: choice, generate)"),
    };
}
