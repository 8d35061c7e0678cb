namespace MixLora.Generation;

/// <summary>
/// How the next token is chosen. Defaults follow the reference GenerateConfig (temperature 1, top-p 0.9, top-k 50)
/// except the repetition penalty: 1.0 (off) as in HF transformers, so that temperature 0 is the plain argmax of the
/// logits; the reference's 1.1 is one option away. Temperature 0 means greedy decoding.
/// </summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 256;
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches TopP (1 = off).</summary>
    public double TopP { get; init; } = 0.9;

    /// <summary>Keep only the K most likely tokens (0 = off).</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Divides positive (multiplies negative) logits of tokens already in the sequence (1 = off).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>OpenAI's frequency penalty: subtracted from a token's logit once per time it was generated (0 = off).</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>OpenAI's presence penalty: subtracted once from the logit of every token generated so far (0 = off).</summary>
    public double PresencePenalty { get; init; }

    /// <summary>Seed of the sampler; null draws one from the clock.</summary>
    public long? Seed { get; init; }

    /// <summary>Reuse past keys/values (fast); false recomputes the whole sequence every step.</summary>
    public bool UseCache { get; init; } = true;

    public bool IsGreedy => Temperature == 0;

    /// <summary>Whether the generated tokens change the next token's scores (frequency or presence penalty).</summary>
    public bool PenalisesGenerated => FrequencyPenalty != 0 || PresencePenalty != 0;

    /// <summary>Throws a <see cref="MixLoraException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new MixLoraException($"--max-new-tokens must be ≥ 0, got {MaxNewTokens}");
        if (!(Temperature >= 0) || !double.IsFinite(Temperature)) throw new MixLoraException($"--temperature must be a finite number ≥ 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new MixLoraException($"--top-p must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new MixLoraException($"--top-k must be ≥ 0, got {TopK}");
        if (!(RepetitionPenalty > 0) || !double.IsFinite(RepetitionPenalty))
            throw new MixLoraException($"--repetition-penalty must be a finite number > 0, got {RepetitionPenalty}");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2)) throw new MixLoraException($"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2)) throw new MixLoraException($"presence_penalty must be in [-2, 2], got {PresencePenalty}");
    }
}
