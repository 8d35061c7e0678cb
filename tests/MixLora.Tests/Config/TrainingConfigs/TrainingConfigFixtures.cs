namespace MixLora.Tests.Config.TrainingConfigs;

/// <summary>Training config JSON texts shared by the tests.</summary>
internal static class TrainingConfigFixtures
{
    /// <summary>The reference's shipped <c>templates/mixlora.json</c> (spec §4.3), key for key.</summary>
    public const string MixLoraTemplate = """
        {
            "cutoff_len": 512,
            "save_step": 1000,
            "train_lora_candidate_num": 2,
            "train_lora_simultaneously_num": 2,
            "train_strategy": "optim",
            "lora": [
                {
                    "name": "mixlora",
                    "task_name": "",
                    "optim": "adamw",
                    "scheduler_type": "constant",
                    "warmup_steps": 0,
                    "lr": 2e-4,
                    "batch_size": 16,
                    "micro_batch_size": 8,
                    "evaluate_batch_size": 16,
                    "num_epochs": 2,
                    "r": 16,
                    "lora_alpha": 32,
                    "lora_dropout": 0.05,
                    "target_modules": {
                        "q_proj": true,
                        "k_proj": true,
                        "v_proj": true,
                        "o_proj": true,
                        "gate_proj": true,
                        "down_proj": true,
                        "up_proj": true
                    },
                    "routing_strategy": "mixlora",
                    "num_experts": 8,
                    "top_k": 2,
                    "group_by_length": false
                }
            ]
        }
        """;

    /// <summary>A small valid config with one adapter "a"; the extras are spliced into the adapter / top level.</summary>
    public static string Minimal(string adapterExtra = "", string topExtra = "", string lr = "\"lr\": 0.001,") => $$"""
        {
            {{topExtra}}
            "cutoff_len": 256,
            "save_step": 100,
            "train_strategy": "optim",
            "lora": [
                {
                    {{adapterExtra}}
                    "name": "a",
                    "data": "data.json",
                    {{lr}}
                    "batch_size": 16,
                    "num_epochs": 1,
                    "r": 4,
                    "lora_alpha": 8,
                    "lora_dropout": 0.05,
                    "target_modules": ["q_proj", "v_proj"]
                }
            ]
        }
        """;
}
