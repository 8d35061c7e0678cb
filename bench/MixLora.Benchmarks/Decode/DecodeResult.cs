using System.Text.Json.Serialization;
using MixLora.Benchmarks.Harness;

namespace MixLora.Benchmarks.Decode;

/// <summary>One configuration's decode numbers: medians over the repetitions, and the raw times behind them.</summary>
public sealed record DecodeResult
{
    [JsonPropertyName("prefill_tokens_per_s")] public double PrefillTokensPerS { get; init; }
    [JsonPropertyName("time_to_first_token_ms")] public double TimeToFirstTokenMs { get; init; }
    [JsonPropertyName("decode_tokens_per_s")] public double DecodeTokensPerS { get; init; }
    [JsonPropertyName("prefill_batch8_tokens_per_s")] public double PrefillBatch8TokensPerS { get; init; }
    [JsonPropertyName("decode_batch8_tokens_per_s")] public double DecodeBatch8TokensPerS { get; init; }
    /// <summary>Largest |logit − base logit| at the prompt's last position (batch 1): non-zero shows the adapter is applied.</summary>
    [JsonPropertyName("max_logit_change_vs_base"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MaxLogitChangeVsBase { get; init; }
    [JsonPropertyName("raw_s")] public Dictionary<string, double[]> RawSeconds { get; init; } = [];

    /// <param name="batch1">Timings at batch 1, one per repetition.</param>
    /// <param name="batch8">Timings at batch 8, one per repetition.</param>
    public static DecodeResult From(int promptTokens, int newTokens, IReadOnlyList<DecodeTiming> batch1, IReadOnlyList<DecodeTiming> batch8,
        double? maxLogitChange)
    {
        double prefill1 = Statistics.Median(batch1.Select(t => t.PrefillSeconds));
        double decode1 = Statistics.Median(batch1.Select(t => t.DecodeSeconds));
        double prefill8 = Statistics.Median(batch8.Select(t => t.PrefillSeconds));
        double decode8 = Statistics.Median(batch8.Select(t => t.DecodeSeconds));
        return new DecodeResult
        {
            PrefillTokensPerS = promptTokens / prefill1,
            TimeToFirstTokenMs = prefill1 * 1e3,
            DecodeTokensPerS = newTokens / decode1,
            PrefillBatch8TokensPerS = DecodeSweep.BigBatch * (double)promptTokens / prefill8,
            DecodeBatch8TokensPerS = DecodeSweep.BigBatch * (double)newTokens / decode8,
            MaxLogitChangeVsBase = maxLogitChange,
            RawSeconds = new()
            {
                ["prefill_batch1"] = batch1.Select(t => t.PrefillSeconds).ToArray(),
                ["decode_batch1"] = batch1.Select(t => t.DecodeSeconds).ToArray(),
                ["prefill_batch8"] = batch8.Select(t => t.PrefillSeconds).ToArray(),
                ["decode_batch8"] = batch8.Select(t => t.DecodeSeconds).ToArray(),
            },
        };
    }
}
