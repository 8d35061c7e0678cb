using System.Text.Json.Serialization;
using MixLora.Adapters;

namespace MixLora.Config;

/// <summary>
/// The contents of an adapter's <c>adapter_config.json</c> (plain LoRA / DoRA, or MixLoRA), as written by
/// MoE-PEFT/mLoRA, mixlora-pkg, Hugging Face PEFT (plain LoRA) and this library. Properties mirror the JSON keys;
/// defaults are the reference defaults (spec §4.2). Keys whose default depends on the routing strategy are nullable,
/// with an <c>Effective…</c> accessor giving the value in force.
/// </summary>
public sealed partial record AdapterConfig
{
    public const string LoraPeftType = "LORA";
    public const string MixLoraPeftType = "MIXLORA";
    public const string TopKRouting = "mixlora";
    public const string DynamicRouting = "mixlora-dynamic";
    public const string SwitchRouting = "mixlora-switch";

    /// <summary><c>peft_type</c> values this library runs.</summary>
    public static readonly IReadOnlyList<string> PeftTypes = [LoraPeftType, MixLoraPeftType];

    /// <summary>MixLoRA <c>routing_strategy</c> values this library runs.</summary>
    public static readonly IReadOnlyList<string> RoutingStrategies = [TopKRouting, DynamicRouting, SwitchRouting];

    /// <summary>m-LoRA ≤ 0.4 routing names and their modern equivalents; only the legacy converter accepts them.</summary>
    public static readonly IReadOnlyDictionary<string, string> LegacyRoutingStrategies = new Dictionary<string, string>
    {
        ["mixtral"] = TopKRouting,
        ["switch"] = SwitchRouting,
    };

    /// <summary><c>lora_init</c> values (spec §3.2).</summary>
    public static readonly IReadOnlyList<string> LoraInits = ["original", "gaussian"];

    // ---- PEFT keys (all adapter types) ----

    /// <summary>"LORA" or "MIXLORA"; when absent, a MixLoRA <c>routing_strategy</c> selects MIXLORA, else LORA.</summary>
    [JsonPropertyName("peft_type")] public string? PeftType { get; init; }
    [JsonPropertyName("bias")] public string Bias { get; init; } = "none";
    [JsonPropertyName("task_type")] public string? TaskType { get; init; }
    [JsonPropertyName("base_model_name_or_path")] public string? BaseModelNameOrPath { get; init; }

    /// <summary>LoRA rank (required, integer &gt; 0).</summary>
    [JsonPropertyName("r")] public int? R { get; init; }

    /// <summary>LoRA alpha (required, integer &gt; 0: the reference rejects 16.0).</summary>
    [JsonPropertyName("lora_alpha")] public int? LoraAlpha { get; init; }

    /// <summary>Dropout probability on the LoRA input (required, ≥ 0).</summary>
    [JsonPropertyName("lora_dropout")] public double? LoraDropout { get; init; }
    [JsonPropertyName("lora_init")] public string? LoraInit { get; init; }
    [JsonPropertyName("use_dora")] public bool UseDora { get; init; }
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }

    /// <summary>
    /// Enabled projection names in the global order of spec §1.2 (the file may give a list or a map name → bool).
    /// </summary>
    [JsonPropertyName("target_modules")]
    [JsonConverter(typeof(AdapterTargetModulesJsonConverter))]
    public IReadOnlyList<string>? TargetModules { get; init; }

    // ---- MixLoRA keys ----

    [JsonPropertyName("routing_strategy")] public string? RoutingStrategy { get; init; }
    [JsonPropertyName("num_experts")] public int? NumExperts { get; init; }
    [JsonPropertyName("top_k")] public int? TopK { get; init; }
    [JsonPropertyName("top_p")] public double? TopP { get; init; }
    [JsonPropertyName("temperature")] public double? Temperature { get; init; }
    [JsonPropertyName("expert_capacity")] public int? ExpertCapacity { get; init; }

    /// <summary>Switch routing only; parsed, validated and written but unused by the reference (spec §1.1).</summary>
    [JsonPropertyName("sparse_step")] public int? SparseStep { get; init; }

    /// <summary>Expert activation; null means the base model's <c>hidden_act</c>.</summary>
    [JsonPropertyName("act_fn")] public string? ActFn { get; init; }
    [JsonPropertyName("jitter_noise")] public double? JitterNoise { get; init; }
    [JsonPropertyName("router_aux_loss_coef")] public double? RouterAuxLossCoef { get; init; }
    [JsonPropertyName("router_z_loss_coef")] public double? RouterZLossCoef { get; init; }
    [JsonPropertyName("router_init_range")] public double? RouterInitRange { get; init; }
    [JsonPropertyName("router_loss")] public bool? RouterLoss { get; init; }
    [JsonPropertyName("ffn_dropout")] public double? FfnDropout { get; init; }

    /// <summary>The <c>expert_lora</c> object: LoRA settings of the experts that differ from the top level.</summary>
    [JsonPropertyName("expert_lora")] public ExpertLoraConfig? ExpertLoraOverrides { get; init; }

    // ---- Derived values ----

    /// <summary>The adapter type in force: <see cref="PeftType"/>, or inferred from the routing strategy.</summary>
    [JsonIgnore]
    public string EffectivePeftType => PeftType ?? (RoutingStrategy is { } s && RoutingStrategies.Contains(s) ? MixLoraPeftType : LoraPeftType);

    [JsonIgnore] public bool IsMixLora => EffectivePeftType == MixLoraPeftType;
    [JsonIgnore] public bool IsTopKRouting => IsMixLora && RoutingStrategy == TopKRouting;
    [JsonIgnore] public bool IsDynamicRouting => IsMixLora && RoutingStrategy == DynamicRouting;
    [JsonIgnore] public bool IsSwitchRouting => IsMixLora && RoutingStrategy == SwitchRouting;

    [JsonIgnore] public string EffectiveLoraInit => LoraInit ?? "original";
    [JsonIgnore] public int EffectiveTopK => TopK ?? 2;
    [JsonIgnore] public double EffectiveTopP => TopP ?? 0.8;
    [JsonIgnore] public double EffectiveTemperature => Temperature ?? 0.0;
    [JsonIgnore] public int EffectiveExpertCapacity => ExpertCapacity ?? 32;
    [JsonIgnore] public double EffectiveJitterNoise => JitterNoise ?? (IsSwitchRouting ? 0.01 : 0.0);
    [JsonIgnore] public double EffectiveRouterInitRange => RouterInitRange ?? (IsSwitchRouting ? 1.0 : 0.02);
    [JsonIgnore] public double EffectiveRouterAuxLossCoef => RouterAuxLossCoef ?? 0.001;
    [JsonIgnore] public double EffectiveRouterZLossCoef => RouterZLossCoef ?? 0.001;
    [JsonIgnore] public bool EffectiveRouterLoss => RouterLoss ?? true;
    [JsonIgnore] public double EffectiveFfnDropout => FfnDropout ?? 0.0;

    /// <summary>The expert activation: <see cref="ActFn"/>, else the base model's <c>hidden_act</c>.</summary>
    public string EffectiveActFn(ModelConfig baseModel) => ActFn ?? baseModel.Activation;

    /// <summary>
    /// LoRA settings of every non-expert LoRA: the attention projections of a MixLoRA adapter, all projections of a
    /// plain LoRA adapter. Call after <see cref="Validate"/> (r, lora_alpha are required).
    /// </summary>
    [JsonIgnore]
    public LoraSettings AttentionLora => new()
    {
        Rank = R ?? throw MissingKey("r"),
        Alpha = LoraAlpha ?? throw MissingKey("lora_alpha"),
        Dropout = LoraDropout ?? 0.0,
        UseDora = UseDora,
        UseRsLora = UseRsLora,
        Init = EffectiveLoraInit,
    };

    /// <summary>LoRA settings of the MixLoRA expert LoRAs: <c>expert_lora</c> merged over the top-level keys.</summary>
    [JsonIgnore]
    public LoraSettings ExpertLora
    {
        get
        {
            var top = AttentionLora;
            var o = ExpertLoraOverrides;
            if (o is null) return top;
            return top with
            {
                Rank = o.R ?? top.Rank,
                Alpha = o.LoraAlpha ?? top.Alpha,
                Dropout = o.LoraDropout ?? top.Dropout,
                UseDora = o.UseDora ?? top.UseDora,
                UseRsLora = o.UseRsLora ?? top.UseRsLora,
                Init = o.LoraInit ?? top.Init,
            };
        }
    }

    private static MixLoraException MissingKey(string key) =>
        new($"adapter config: missing key \"{key}\" (call Validate to get a message naming the file)");
}
