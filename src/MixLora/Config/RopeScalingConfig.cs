using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>
/// The <c>rope_scaling</c> object of a Hugging Face <c>config.json</c>. Supported: "default", "llama3", "linear" and
/// Phi-3's "longrope" (per-frequency short/long factors).
/// </summary>
public sealed record RopeScalingConfig
{
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }

    /// <summary>Older files spell <c>rope_type</c> as <c>type</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }

    [JsonPropertyName("factor")] public double Factor { get; init; } = 1.0;
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1.0;
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4.0;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 8192;

    /// <summary>LongRoPE: one divisor per rotary frequency for sequences within the original context.</summary>
    [JsonPropertyName("short_factor")] public IReadOnlyList<double>? ShortFactor { get; init; }

    /// <summary>LongRoPE: one divisor per rotary frequency for longer sequences.</summary>
    [JsonPropertyName("long_factor")] public IReadOnlyList<double>? LongFactor { get; init; }

    /// <summary>LongRoPE: the cos/sin multiplier; absent: √(1 + ln s / ln original) with s = max / original positions.</summary>
    [JsonPropertyName("attention_factor")] public double? AttentionFactor { get; init; }

    /// <summary>The effective type: <c>rope_type</c>, else <c>type</c>, else "default".</summary>
    [JsonIgnore] public string EffectiveType => RopeType ?? Type ?? "default";

    public void Validate(string file)
    {
        switch (EffectiveType)
        {
            case "default":
                return;
            case "linear":
                if (Factor <= 0) throw new InvalidFileException(file, $"rope_scaling.factor must be > 0, got {Factor}");
                return;
            case "llama3":
                if (Factor <= 0) throw new InvalidFileException(file, $"rope_scaling.factor must be > 0, got {Factor}");
                if (HighFreqFactor <= LowFreqFactor)
                    throw new InvalidFileException(file, $"rope_scaling.high_freq_factor ({HighFreqFactor}) must be greater than low_freq_factor ({LowFreqFactor})");
                if (OriginalMaxPositionEmbeddings <= 0)
                    throw new InvalidFileException(file, "rope_scaling.original_max_position_embeddings must be > 0");
                return;
            case "longrope":
                return; // the factor lists are checked against the rotary dimension by ValidateLongRope
            default:
                throw new InvalidFileException(file, $"rope_scaling type \"{EffectiveType}\" is not supported (supported: default, llama3, linear, longrope)");
        }
    }

    /// <summary>LongRoPE needs both factor lists with one positive entry per rotary frequency.</summary>
    public void ValidateLongRope(string file, int frequencies)
    {
        foreach (var (key, factors) in new[] { ("short_factor", ShortFactor), ("long_factor", LongFactor) })
        {
            if (factors is null) throw new InvalidFileException(file, $"rope_scaling.{key} is missing (longrope needs {frequencies} numbers)");
            if (factors.Count != frequencies)
                throw new InvalidFileException(file, $"rope_scaling.{key} has {factors.Count} entries; expected {frequencies} (rotary dimension / 2)");
            if (factors.Any(f => !(f > 0)))
                throw new InvalidFileException(file, $"rope_scaling.{key} entries must be positive numbers");
        }
        if (AttentionFactor is <= 0) throw new InvalidFileException(file, $"rope_scaling.attention_factor must be > 0, got {AttentionFactor}");
    }
}
