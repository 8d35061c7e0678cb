using System.Text.Json.Serialization;

namespace MixLora.Config;

/// <summary>The <c>rope_scaling</c> object of a Hugging Face <c>config.json</c>. Supported: "default", "llama3" and "linear".</summary>
public sealed record RopeScalingConfig
{
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }

    /// <summary>Older files spell <c>rope_type</c> as <c>type</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }

    [JsonPropertyName("factor")] public double Factor { get; init; } = 1.0;
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1.0;
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4.0;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 8192;

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
            default:
                throw new InvalidFileException(file, $"rope_scaling type \"{EffectiveType}\" is not supported (supported: default, llama3, linear)");
        }
    }
}
