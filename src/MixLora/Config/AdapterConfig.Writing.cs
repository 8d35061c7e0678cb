namespace MixLora.Config;

public sealed partial record AdapterConfig
{
    /// <summary>
    /// The <c>adapter_config.json</c> text MoE-PEFT/mLoRA would write for this adapter (spec §5.2): the same keys,
    /// values and order, formatted like Python's <c>json.dump(indent=4)</c>. Keys the reference does not persist
    /// (router_aux_loss_coef, jitter_noise, router_init_range, lora_init, …) are not written; strategy keys are
    /// written with their effective values; base_model_name_or_path and task_type come last when set.
    /// </summary>
    /// <exception cref="InvalidFileException">The config is invalid (see <see cref="Validate"/>).</exception>
    public string ToJson()
    {
        Validate("adapter config to write");
        var entries = new List<KeyValuePair<string, object?>>();
        void Add(string key, object? value) => entries.Add(new(key, value));

        if (UseDora) Add("use_dora", true);
        if (UseRsLora) Add("use_rslora", true);
        Add("bias", Bias);
        Add("peft_type", EffectivePeftType);
        Add("r", R!.Value);
        Add("lora_alpha", LoraAlpha!.Value);
        Add("lora_dropout", LoraDropout!.Value);
        Add("target_modules", AdapterTargetModules.Normalize(TargetModules!));
        if (IsMixLora)
        {
            if (ExpertLoraOverrides is not null) Add("expert_lora", ExpertLoraEntries());
            Add("routing_strategy", RoutingStrategy);
            Add("num_experts", NumExperts!.Value);
            if (ActFn is not null) Add("act_fn", ActFn);
            if (IsTopKRouting)
            {
                Add("top_k", EffectiveTopK);
            }
            else if (IsDynamicRouting)
            {
                Add("top_p", EffectiveTopP);
                Add("temperature", EffectiveTemperature);
            }
            else
            {
                Add("expert_capacity", EffectiveExpertCapacity);
                Add("sparse_step", SparseStep);
            }
        }
        if (BaseModelNameOrPath is not null) Add("base_model_name_or_path", BaseModelNameOrPath);
        if (TaskType is not null) Add("task_type", TaskType);
        return AdapterJsonFormatter.Format(entries);
    }

    // The reference writes the experts' full merged LoRA settings, not just the overridden keys.
    private List<KeyValuePair<string, object?>> ExpertLoraEntries()
    {
        var expert = ExpertLora;
        var entries = new List<KeyValuePair<string, object?>>();
        if (expert.UseDora) entries.Add(new("use_dora", true));
        if (expert.UseRsLora) entries.Add(new("use_rslora", true));
        entries.Add(new("bias", "none"));
        entries.Add(new("r", expert.Rank));
        entries.Add(new("lora_alpha", ExpertLoraOverrides?.LoraAlpha ?? LoraAlpha!.Value));
        entries.Add(new("lora_dropout", expert.Dropout));
        return entries;
    }
}
