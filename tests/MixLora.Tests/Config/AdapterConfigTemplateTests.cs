using MixLora.Config;

namespace MixLora.Tests.Config;

/// <summary>Reference-template-shaped configs round-trip with the key order and values of spec §5.2.</summary>
public class AdapterConfigTemplateTests
{
    private const string AllLlamaTargets = """
        [
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "down_proj",
                "up_proj"
            ]
        """;

    public static TheoryData<string, string, string> Templates => new()
    {
        {
            "mixlora top-k (map targets, unpersisted keys dropped, base model and task last)",
            """
            {"task_type": "CAUSAL_LM", "base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "peft_type": "MIXLORA",
             "r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
             "target_modules": {"up_proj": true, "q_proj": true, "k_proj": true, "v_proj": true, "o_proj": true, "gate_proj": true, "down_proj": true, "fc1": false},
             "routing_strategy": "mixlora", "num_experts": 8, "top_k": 2, "act_fn": "silu",
             "router_aux_loss_coef": 0.01, "router_init_range": 0.02, "jitter_noise": 0.0, "router_loss": true, "lora_init": "gaussian"}
            """,
            $$"""
            {
                "bias": "none",
                "peft_type": "MIXLORA",
                "r": 16,
                "lora_alpha": 32,
                "lora_dropout": 0.05,
                "target_modules": {{AllLlamaTargets}},
                "routing_strategy": "mixlora",
                "num_experts": 8,
                "act_fn": "silu",
                "top_k": 2,
                "base_model_name_or_path": "meta-llama/Llama-2-7b-hf",
                "task_type": "CAUSAL_LM"
            }
            """
        },
        {
            "mixlora-dynamic (peft_type inferred, top_p/temperature defaults written)",
            """
            {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "up_proj"],
             "routing_strategy": "mixlora-dynamic", "num_experts": 8}
            """,
            $$"""
            {
                "bias": "none",
                "peft_type": "MIXLORA",
                "r": 16,
                "lora_alpha": 32,
                "lora_dropout": 0.05,
                "target_modules": {{AllLlamaTargets}},
                "routing_strategy": "mixlora-dynamic",
                "num_experts": 8,
                "top_p": 0.8,
                "temperature": 0.0
            }
            """
        },
        {
            "mixlora-switch (expert_capacity and a null sparse_step)",
            """
            {"peft_type": "MIXLORA", "r": 8, "lora_alpha": 16, "lora_dropout": 1e-05, "target_modules": ["gate_proj", "q_proj"],
             "routing_strategy": "mixlora-switch", "num_experts": 4, "expert_capacity": 64, "sparse_step": null,
             "router_z_loss_coef": 0.001, "jitter_noise": 0.01, "ffn_dropout": 0.1, "act_fn": "gelu_new", "task_type": "CAUSAL_LM"}
            """,
            """
            {
                "bias": "none",
                "peft_type": "MIXLORA",
                "r": 8,
                "lora_alpha": 16,
                "lora_dropout": 1e-05,
                "target_modules": [
                    "q_proj",
                    "gate_proj"
                ],
                "routing_strategy": "mixlora-switch",
                "num_experts": 4,
                "act_fn": "gelu_new",
                "expert_capacity": 64,
                "sparse_step": null,
                "task_type": "CAUSAL_LM"
            }
            """
        },
        {
            "plain LoRA (Hugging Face PEFT keys with default values are accepted)",
            """
            {"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "TinyLlama", "bias": "none", "fan_in_fan_out": false,
             "inference_mode": true, "init_lora_weights": true, "layers_to_transform": null, "lora_alpha": 160, "lora_dropout": 0.0,
             "modules_to_save": null, "peft_type": "LORA", "r": 80, "rank_pattern": {}, "revision": null,
             "target_modules": ["v_proj", "q_proj", "down_proj"], "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false}
            """,
            """
            {
                "bias": "none",
                "peft_type": "LORA",
                "r": 80,
                "lora_alpha": 160,
                "lora_dropout": 0.0,
                "target_modules": [
                    "q_proj",
                    "v_proj",
                    "down_proj"
                ],
                "base_model_name_or_path": "TinyLlama",
                "task_type": "CAUSAL_LM"
            }
            """
        },
        {
            "DoRA + rsLoRA (flags first, only when true)",
            """
            {"use_rslora": true, "use_dora": true, "r": 4, "lora_alpha": 8, "lora_dropout": 0.05, "target_modules": ["o_proj"],
             "routing_strategy": "mixlora", "num_experts": 2, "top_k": 1}
            """,
            """
            {
                "use_dora": true,
                "use_rslora": true,
                "bias": "none",
                "peft_type": "MIXLORA",
                "r": 4,
                "lora_alpha": 8,
                "lora_dropout": 0.05,
                "target_modules": [
                    "o_proj"
                ],
                "routing_strategy": "mixlora",
                "num_experts": 2,
                "top_k": 1
            }
            """
        },
        {
            "expert_lora override (merged settings written before routing_strategy)",
            """
            {"use_dora": true, "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "up_proj"],
             "routing_strategy": "mixlora", "num_experts": 8, "expert_lora": {"r": 8, "lora_alpha": 16}}
            """,
            """
            {
                "use_dora": true,
                "bias": "none",
                "peft_type": "MIXLORA",
                "r": 16,
                "lora_alpha": 32,
                "lora_dropout": 0.05,
                "target_modules": [
                    "q_proj",
                    "up_proj"
                ],
                "expert_lora": {
                    "use_dora": true,
                    "bias": "none",
                    "r": 8,
                    "lora_alpha": 16,
                    "lora_dropout": 0.05
                },
                "routing_strategy": "mixlora",
                "num_experts": 8,
                "top_k": 2
            }
            """
        },
    };

    [Theory]
    [MemberData(nameof(Templates))]
    public void TemplateConfigIsWrittenInTheReferenceOrderAndRoundTrips(string description, string input, string expected)
    {
        var config = AdapterConfig.Parse(input, description);
        Assert.Equal(expected, config.ToJson());
        var reparsed = AdapterConfig.Parse(expected, description);
        Assert.Equal(expected, reparsed.ToJson());
    }

    [Fact]
    public void EffectiveValuesFollowTheStrategyDefaults()
    {
        const string common = "\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, \"target_modules\": [\"q_proj\"], \"num_experts\": 4";
        var topK = AdapterConfig.Parse($"{{{common}, \"routing_strategy\": \"mixlora\"}}", "topk");
        var dynamic = AdapterConfig.Parse($"{{{common}, \"routing_strategy\": \"mixlora-dynamic\"}}", "dynamic");
        var @switch = AdapterConfig.Parse($"{{{common}, \"routing_strategy\": \"mixlora-switch\"}}", "switch");
        var lora = AdapterConfig.Parse("{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.05, \"target_modules\": [\"q_proj\"]}", "lora");

        Assert.True(topK.IsMixLora && topK.IsTopKRouting && !topK.IsDynamicRouting);
        Assert.True(dynamic.IsDynamicRouting && @switch.IsSwitchRouting);
        Assert.False(lora.IsMixLora);
        Assert.Equal("LORA", lora.EffectivePeftType);
        Assert.Equal((2, 0.02, 0.0, 0.001, true), (topK.EffectiveTopK, topK.EffectiveRouterInitRange, topK.EffectiveJitterNoise, topK.EffectiveRouterAuxLossCoef, topK.EffectiveRouterLoss));
        Assert.Equal((0.8, 0.0, 0.02, 0.0), (dynamic.EffectiveTopP, dynamic.EffectiveTemperature, dynamic.EffectiveRouterInitRange, dynamic.EffectiveJitterNoise));
        Assert.Equal((32, 1.0, 0.01, 0.001, 0.0), (@switch.EffectiveExpertCapacity, @switch.EffectiveRouterInitRange, @switch.EffectiveJitterNoise, @switch.EffectiveRouterZLossCoef, @switch.EffectiveFfnDropout));
        Assert.Null(@switch.SparseStep);
        Assert.Equal("original", topK.EffectiveLoraInit);
    }

    [Fact]
    public void ExpertLoraMergesOverTheTopLevelSettings()
    {
        var config = AdapterConfig.Parse("""
            {"use_rslora": true, "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "lora_init": "gaussian", "target_modules": ["q_proj", "up_proj"],
             "routing_strategy": "mixlora", "num_experts": 8, "expert_lora": {"r": 8, "lora_dropout": 0.1, "use_dora": true}}
            """, "merge");
        var attention = config.AttentionLora;
        Assert.Equal((16, 32.0, 0.05, true, false, "gaussian"), (attention.Rank, attention.Alpha, attention.Dropout, attention.UseRsLora, attention.UseDora, attention.Init));
        var expert = config.ExpertLora;
        Assert.Equal((8, 32.0, 0.1, true, true, "gaussian"), (expert.Rank, expert.Alpha, expert.Dropout, expert.UseRsLora, expert.UseDora, expert.Init));
        Assert.Equal(32.0 / Math.Sqrt(8), expert.Scaling, 12);
    }

    [Fact]
    public void WithoutExpertLoraTheExpertsUseTheTopLevelSettings()
    {
        var config = AdapterConfig.Parse("""
            {"r": 4, "lora_alpha": 8, "lora_dropout": 0.05, "target_modules": ["gate_proj"], "routing_strategy": "mixlora", "num_experts": 2, "top_k": 2}
            """, "plain experts");
        Assert.Equal(config.AttentionLora, config.ExpertLora);
        Assert.Equal(2.0, config.ExpertLora.Scaling);
    }

    [Fact]
    public void FloatsAreWrittenInPythonReprForm()
    {
        foreach (var (value, expected) in new[] { ("0.1", "0.1"), ("0", "0.0"), ("0.5", "0.5"), ("1e-4", "0.0001"), ("0.00001", "1e-05"), ("1.5e-7", "1.5e-07"), ("0.123456789", "0.123456789") })
        {
            var config = AdapterConfig.Parse($"{{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": {value}, \"target_modules\": [\"q_proj\"]}}", "floats");
            Assert.Contains($"\"lora_dropout\": {expected},", config.ToJson());
        }
    }

    [Fact]
    public void NonAsciiStringsAreEscapedLikePython()
    {
        var config = AdapterConfig.Parse("{\"r\": 4, \"lora_alpha\": 8, \"lora_dropout\": 0.0, \"target_modules\": [\"q_proj\"], \"base_model_name_or_path\": \"mod\u00e8le \\\"x\\\"\\\\\"}", "escapes");
        Assert.Contains("\"base_model_name_or_path\": \"mod\\u00e8le \\\"x\\\"\\\\\"", config.ToJson());
    }
}
