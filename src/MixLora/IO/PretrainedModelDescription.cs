namespace MixLora.IO;

/// <summary>Human-readable facts about a loaded model, for `mixlora info`.</summary>
public static class PretrainedModelDescription
{
    /// <summary>(property, value) rows: family, sizes, parameters, dtypes, tokenizer.</summary>
    public static IReadOnlyList<(string Key, string Value)> Describe(this PretrainedModel m)
    {
        var c = m.Config;
        var t = m.Tokenizer;
        string Token(int? id) => id is int i ? $"{i} ({t.IdToToken(i) ?? "?"})" : "none";
        return
        [
            ("family (model_type)", c.ModelType),
            ("layers", c.NumHiddenLayers.ToString()),
            ("hidden size", c.HiddenSize.ToString()),
            ("FFN intermediate size", c.IntermediateSize.ToString()),
            ("FFN", c.IsSparseMoe ? $"sparse mixture of {c.LocalExperts} experts, top-{c.ExpertsPerToken} (renormalised)"
                : c.HasFusedProjections ? $"dense, {c.Activation}, fused gate_up_proj (and qkv_proj)"
                : c.IsPhi ? $"dense, {c.Activation}, fc1/fc2 in parallel with attention" : $"dense, {c.Activation}"),
            ("attention heads / KV heads / head dim", $"{c.NumAttentionHeads} / {c.KeyValueHeads} / {c.HeadDim}"),
            ("vocabulary", c.VocabSize.ToString()),
            ("context (max_position_embeddings)", c.MaxPositionEmbeddings.ToString()),
            ("RoPE", Rope(c)),
            ("sliding window", SlidingWindows(c)),
            ("tied embeddings", c.TiedHead ? "yes" : "no"),
            ("parameters", $"{m.Model.ParameterCount():N0}"),
            ("stored weights", m.WeightsDescription),
            ("compute dtype / device", $"{m.Options.DType} / {m.Options.Device}"),
            ("tokenizer", $"{t.Kind}, {t.VocabSize} tokens, BOS {Token(t.BosId)}, EOS {Token(t.EosId)}, adds BOS: {(t.AddBos ? "yes" : "no")}"),
            ("generation stops at", string.Join(", ", m.StopIds.Select(id => Token(id))) +
                                    (m.Generation is null ? "" : $" (with {Config.GenerationConfig.FileName})")),
        ];
    }

    /// <summary>Base, rotated share of each head, and scaling: "theta 10000.0, 96 of 128 dims, scaling longrope (...)".</summary>
    private static string Rope(Config.ModelConfig c)
    {
        string text = $"theta {c.RopeBase}" + (c.ModelType == "gemma3_text" ? $" (local layers {c.LocalRopeBase})" : "");
        if (c.RotaryDim != c.HeadDim) text += $", {c.RotaryDim} of {c.HeadDim} dims";
        return c.RopeScaling switch
        {
            null => text,
            { EffectiveType: "longrope" } => text + $", scaling longrope (long factors beyond {c.LongRopeSwitchLength} positions, " +
                                            $"attention factor {c.LongRopeAttentionFactor:F4})",
            var s => text + $", scaling {s.EffectiveType} x{s.Factor}",
        };
    }

    /// <summary>"none", "4096" (every layer), or "4096 on layers 0, 1, 2, 3, 4 (the others global)".</summary>
    private static string SlidingWindows(Config.ModelConfig c)
    {
        var windows = c.LayerWindows;
        var windowed = Enumerable.Range(0, windows.Count).Where(l => windows[l] is not null).ToList();
        if (windowed.Count == 0) return "none";
        string size = windows[windowed[0]]!.Value.ToString();
        return windowed.Count == c.NumHiddenLayers ? size : $"{size} on layers {string.Join(", ", windowed)} (the others global)";
    }
}
