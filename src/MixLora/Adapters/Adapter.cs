using MixLora.Config;
using MixLora.IO;
using MixLora.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// A LoRA or MixLoRA adapter attached to a frozen <see cref="CausalLM"/>: LoRA deltas on the targeted projections and,
/// for MixLoRA, a mixture-of-experts block in every decoder layer's FFN slot. Its trainable tensors carry the official
/// file names (spec §5.3). Dispose (or <see cref="Detach"/>) to give the base model back unchanged.
/// </summary>
public sealed class Adapter : IDisposable
{
    private readonly CausalLM _model;
    private readonly List<(AdaptableLinear Linear, LoraLinear Lora)> _deltas = [];
    private readonly List<(DecoderLayer Layer, MixLoraFeedForward Block)> _blocks = [];
    private readonly Dictionary<string, Parameter> _tensors = [];
    private readonly List<(string Prefix, LoraLinear Lora)> _loraPrefixes = [];
    /// <summary>The frozen projections this adapter extends and the LoRA on each (attention and plain FFN projections; not MoE experts).</summary>
    internal IReadOnlyList<(AdaptableLinear Linear, LoraLinear Lora)> LinearDeltas => _deltas;

    /// <summary>How many frozen projections carry one of this adapter's LoRAs (MoE experts not counted).</summary>
    public int LinearDeltaCount => _deltas.Count; // every LoRA (attention and experts) by file prefix
    private bool _attached;

    private Adapter(CausalLM model, AdapterConfig config, AdapterOptions options)
    {
        _model = model;
        Config = config;
        Options = options;
        RandomGenerator = new Generator((ulong)options.Seed);
    }

    /// <summary>The adapter's own random source (initialisation, router jitter, switch ffn_dropout); training checkpoints save its state.</summary>
    public Generator RandomGenerator { get; }

    public AdapterConfig Config { get; }
    public AdapterOptions Options { get; }

    /// <summary>The MoE blocks, one per decoder layer (empty for plain LoRA).</summary>
    public IReadOnlyList<MixLoraFeedForward> MoeBlocks => _blocks.Select(b => b.Block).ToList();

    /// <summary>Trainable tensors by official name, in the official file order.</summary>
    public IReadOnlyList<KeyValuePair<string, Parameter>> NamedTensors =>
        AdapterLayout.Expected(Config, _model.Config)
            .Where(e => _tensors.ContainsKey(e.Name))
            .Select(e => new KeyValuePair<string, Parameter>(e.Name, _tensors[e.Name]))
            .ToList();

    /// <summary>What an optimizer should update (nothing of the frozen base model).</summary>
    public IEnumerable<Parameter> TrainableParameters() => NamedTensors.Select(kv => kv.Value);

    public long TrainableParameterCount => _tensors.Values.Sum(p => p.numel());

    /// <summary>A fresh adapter (LoRA B = 0, so the model's outputs are unchanged until it is trained).</summary>
    public static Adapter Create(CausalLM model, AdapterConfig config, AdapterOptions? options = null)
    {
        config.Validate("(adapter config)", model.Config);
        options ??= new AdapterOptions();
        var adapter = new Adapter(model, config, options);
        adapter.Build(adapter.RandomGenerator);
        return adapter;
    }

    /// <summary>Loads an adapter folder (adapter_config.json + adapter_model.safetensors or .bin) onto <paramref name="model"/>.</summary>
    public static Adapter Load(CausalLM model, string dir, AdapterOptions? options = null)
    {
        if (!Directory.Exists(dir)) throw new MixLoraException($"{dir}: adapter folder not found (expected adapter_config.json and adapter_model.bin or .safetensors)");
        options ??= new AdapterOptions();
        var (config, tensors) = AdapterFolder.Load(dir, model.Config); // validates the config and checks every tensor name and shape
        try
        {
            if (!options.AllowNonFinite) FiniteWeights.ThrowIfAnyNonFinite(tensors, dir);
            var adapter = new Adapter(model, config, options);
            adapter.Build(adapter.RandomGenerator);
            adapter.CopyFrom(tensors);
            return adapter;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Writes adapter_config.json and the weights (official names and order) atomically.</summary>
    /// <param name="peftNames">
    /// Plain-LoRA DoRA adapters: also write each magnitude under HF PEFT's name (<c>{prefix}.lora_magnitude_vector</c>)
    /// so that HF PEFT loads the trained magnitudes (the reference ignores both names and re-initialises them, spec §3.5).
    /// </param>
    public void Save(string dir, AdapterWeightFormat format = AdapterWeightFormat.Bin, bool peftNames = false)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, value) in NamedTensors)
        {
            tensors.Add(new(name, value.detach()));
            if (peftNames && !Config.IsMixLora && name.EndsWith(AdapterLayout.MagnitudeSuffix, StringComparison.Ordinal))
                tensors.Add(new(name[..^AdapterLayout.MagnitudeSuffix.Length] + AdapterLayout.PeftMagnitudeSuffix, value.detach()));
        }
        // As the reference writes it (spec §5.2): a MixLoRA config names its expert activation, the base model's when unset.
        var config = Config.IsMixLora && Config.ActFn is null ? Config with { ActFn = _model.Config.Activation } : Config;
        try { AdapterFolder.Save(dir, config, tensors, format); }
        finally { foreach (var t in tensors) t.Value.Dispose(); }
    }

    /// <summary>
    /// The router loss the adapter adds to the LM loss (already multiplied by its coefficients), or null for plain
    /// LoRA or <c>router_loss: false</c>. routerLogits: the forward's per-layer [B*T, E]; attentionMask: [B, T] or null.
    /// </summary>
    public Tensor? AuxiliaryLoss(IReadOnlyList<Tensor> routerLogits, Tensor? attentionMask = null)
    {
        if (!Config.IsMixLora || !Config.EffectiveRouterLoss || routerLogits.Count == 0) return null;
        int experts = Config.NumExperts!.Value;
        if (Config.IsSwitchRouting)
            return RouterLoss.Switch(routerLogits, experts, Config.EffectiveRouterZLossCoef, Config.EffectiveRouterAuxLossCoef);
        using var scope = NewDisposeScope();
        var raw = Config.IsDynamicRouting
            ? RouterLoss.Dynamic(routerLogits, experts, Config.EffectiveTopP, Config.EffectiveTemperature)
            : RouterLoss.LoadBalancing(routerLogits, experts, Config.EffectiveTopK, attentionMask);
        return (raw * Config.EffectiveRouterAuxLossCoef).MoveToOuterDisposeScope();
    }

    /// <summary>Training mode switches on LoRA dropout, router jitter and switch ffn_dropout (and the base model's flag).</summary>
    public void SetTraining(bool training)
    {
        if (training) UnmergeFromBase(); // training updates the LoRA matrices: they must stay separate
        _model.train(training);
        foreach (var (_, lora) in _deltas) lora.train(training);
        foreach (var (_, block) in _blocks) block.train(training);
    }

    /// <summary>Whether the adapter's modules are in training mode (see <see cref="SetTraining"/>).</summary>
    public bool IsTraining => _deltas.Count > 0 ? _deltas[0].Lora.training : _blocks.Count > 0 && _blocks[0].Block.training;

    /// <summary>Where routing statistics are recorded now (null: nowhere, or not a MixLoRA adapter).</summary>
    public RouterStatistics? RouterStatisticsSink => _blocks.Count > 0 ? _blocks[0].Block.Statistics : null;

    /// <summary>Starts collecting per-layer, per-expert routing statistics (MixLoRA only).</summary>
    public RouterStatistics CollectRouterStatistics()
    {
        var statistics = new RouterStatistics(_blocks.Count, Config.NumExperts ?? 0);
        RecordRouterStatisticsInto(statistics);
        return statistics;
    }

    /// <summary>Sends routing statistics to <paramref name="statistics"/> (e.g. back to a training run's after an evaluation), or stops recording (null).</summary>
    public void RecordRouterStatisticsInto(RouterStatistics? statistics)
    {
        foreach (var (_, block) in _blocks) block.Statistics = statistics;
    }

    /// <summary>Puts a detached adapter back on its base model (idempotent).</summary>
    public void Attach()
    {
        if (_attached) return;
        foreach (var (linear, lora) in _deltas) linear.Deltas.Add(lora);
        foreach (var (layer, block) in _blocks) layer.AddMlpReplacement(this, block);
        _model.RandomSources.Add(RandomGenerator);
        _attached = true;
    }

    public bool IsAttached => _attached;

    /// <summary>Whether the LoRA projections are folded into the base weights now (see <see cref="MergeIntoBase"/>).</summary>
    public bool IsMergedIntoBase => _unmerged is not null;

    private List<(AdaptableLinear Linear, LoraLinear Lora, Tensor Weight, Tensor? Bias)>? _unmerged;

    /// <summary>
    /// Inference speed: folds the adapter's LoRA projections (every projection of a LoRA/rsLoRA/DoRA adapter, the
    /// attention projections of a MixLoRA adapter) into the base weights, W ← W + s·B·A (DoRA: m ⊙ (W + s·B·A)/‖·‖),
    /// so a forward runs no LoRA matmuls; outputs equal the unmerged adapter's within float32 rounding (1e-5). The base
    /// weights are restored exactly (from a copy) by <see cref="UnmergeFromBase"/>, <see cref="Detach"/>,
    /// <see cref="SetTraining"/>(true) and <see cref="Dispose"/>. While merged, the base model serves this adapter only.
    /// </summary>
    /// <exception cref="MixLoraException">Detached, or LoRA dropout is kept at inference (a merged LoRA has none).</exception>
    public void MergeIntoBase()
    {
        if (IsMergedIntoBase) return;
        if (!_attached) throw new MixLoraException("attach the adapter before merging it into the base weights");
        if (Options.LoraDropoutAtInference) throw new MixLoraException("an adapter that keeps LoRA dropout at inference cannot be merged into the base weights");
        using var _ = no_grad();
        _unmerged = [];
        foreach (var (linear, lora) in _deltas)
        {
            var (weight, bias) = lora.Merged(linear.Weight, linear.Bias);
            _unmerged.Add((linear, lora, linear.Weight.clone(), linear.Bias?.clone()));
            using (weight) linear.Weight.copy_(weight);
            if (bias is not null) using (bias) linear.Bias!.copy_(bias);
            linear.Deltas.Remove(lora);
        }
    }

    /// <summary>Restores the base weights saved by <see cref="MergeIntoBase"/> and applies the LoRAs separately again.</summary>
    public void UnmergeFromBase()
    {
        if (_unmerged is null) return;
        using var _ = no_grad();
        foreach (var (linear, lora, weight, bias) in _unmerged)
        {
            using (weight) linear.Weight.copy_(weight);
            if (bias is not null) using (bias) linear.Bias!.copy_(bias);
            linear.Deltas.Add(lora);
        }
        _unmerged = null;
    }

    /// <summary>Removes the adapter from the base model (idempotent).</summary>
    public void Detach()
    {
        if (!_attached) return;
        UnmergeFromBase();
        foreach (var (linear, lora) in _deltas) linear.Deltas.Remove(lora);
        foreach (var (layer, block) in _blocks)
            layer.RemoveMlpReplacement(this);
        _model.RandomSources.Remove(RandomGenerator);
        _attached = false;
    }

    public void Dispose()
    {
        Detach();
        foreach (var (_, lora) in _deltas) lora.Dispose();
        foreach (var (_, block) in _blocks) block.Dispose();
    }

    private void Build(Generator generator)
    {
        var c = Config;
        var targets = (c.TargetModules ?? []);
        // Checked before anything attaches, so a refused adapter leaves the model untouched.
        if ((c.IsMixLora || targets.Any(t => !AdapterNames.IsAttention(t))) && _model.Layers.Any(l => l.Mlp is null))
            throw DecoderLayer.NoDenseMlp();
        for (int i = 0; i < _model.Layers.Count; i++)
        {
            var layer = _model.Layers[i];
            foreach (var projection in targets)
            {
                if (c.IsMixLora && !AdapterNames.IsAttention(projection)) continue; // FFN projections become experts
                var linear = Projection(layer, projection);
                var lora = new LoraLinear(linear.Weight, c.AttentionLora with { DropoutAtInference = Options.LoraDropoutAtInference }, generator) { Owner = this };
                string prefix = c.IsMixLora ? AdapterNames.MixLoraAttention(i, projection) : AdapterNames.PlainLora(i, projection);
                Register(prefix, lora);
                linear.Deltas.Add(lora);
                _deltas.Add((linear, lora));
            }
            if (c.IsMixLora) AttachMoe(i, layer, generator);
        }
        _model.RandomSources.Add(RandomGenerator);
        _attached = true;
        SetTraining(_model.training); // new modules start in training mode in TorchSharp; follow the model instead

    }

    private void AttachMoe(int i, DecoderLayer layer, Generator generator)
    {
        var c = Config;
        int experts = c.NumExperts!.Value;
        var expertLoras = new List<ExpertLoras>();
        for (int e = 0; e < experts; e++)
        {
            var loras = new Dictionary<string, LoraLinear>();
            foreach (var projection in (c.TargetModules ?? []).Where(p => !AdapterNames.IsAttention(p)))
            {
                var lora = new LoraLinear(Projection(layer, projection).Weight, c.ExpertLora with { DropoutAtInference = Options.LoraDropoutAtInference }, generator);
                Register(AdapterNames.MixLoraExpert(i, projection, e), lora);
                loras[projection] = lora;
            }
            var expert = new ExpertLoras
            {
                GateProj = loras.GetValueOrDefault("gate_proj"),
                UpProj = loras.GetValueOrDefault("up_proj") ?? loras.GetValueOrDefault("fc1"),
                DownProj = loras.GetValueOrDefault("down_proj") ?? loras.GetValueOrDefault("fc2"),
                GateUpProj = loras.GetValueOrDefault("gate_up_proj"),
            };
            expertLoras.Add(expert);
        }
        Tensor router;
        using (no_grad())
            router = empty([experts, _model.Config.HiddenSize], dtype: ScalarType.Float32, device: layer.DenseMlp.DownProj.Weight.device)
                .normal_(0, c.EffectiveRouterInitRange, generator);
        var block = new MixLoraFeedForward(i, router, expertLoras, MoeSettingsOf(c, Options.ExpertPath), c.EffectiveActFn(_model.Config), generator);
        _tensors[AdapterNames.Router(i)] = block.RouterWeight;
        layer.AddMlpReplacement(this, block);
        _blocks.Add((layer, block));
    }

    private void Register(string prefix, LoraLinear lora)
    {
        _loraPrefixes.Add((prefix, lora));
        _tensors[prefix + ".lora_A.weight"] = lora.LoraA;
        _tensors[prefix + ".lora_B.weight"] = lora.LoraB;
        if (lora.Magnitude is not null) _tensors[prefix + ".magnitude"] = lora.Magnitude;
    }

    private void CopyFrom(IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in _tensors)
        {
            if (tensors.TryGetValue(name, out var value)) parameter.copy_(value);
        }
        // Files without DoRA magnitudes load the way the reference does: m = ‖W + s·B A‖ (spec §3.5).
        foreach (var (prefix, lora) in _loraPrefixes)
            if (lora.Magnitude is not null && !tensors.ContainsKey(prefix + ".magnitude")) lora.ResetMagnitudeFromWeights();
    }

    /// <summary>The MoE block settings an adapter config describes.</summary>
    public static MoeSettings MoeSettingsOf(AdapterConfig c, ExpertPath path = ExpertPath.Auto) => new()
    {
        Strategy = RoutingStrategyNames.Parse(c.RoutingStrategy),
        NumExperts = c.NumExperts ?? throw new MixLoraException("key \"num_experts\" is required for MixLoRA adapters"),
        TopK = c.EffectiveTopK,
        TopP = c.EffectiveTopP,
        Temperature = c.EffectiveTemperature,
        ExpertCapacity = c.EffectiveExpertCapacity,
        JitterNoise = c.EffectiveJitterNoise,
        FfnDropout = c.EffectiveFfnDropout,
        Path = path,
    };

    /// <summary>The frozen projection a target name denotes in this family's layer (Phi: fc1 is W3's place, fc2 W2's).</summary>
    private AdaptableLinear Projection(DecoderLayer layer, string name) => name switch
    {
        "q_proj" => layer.SelfAttention.QProj,
        "k_proj" => layer.SelfAttention.KProj,
        "v_proj" => layer.SelfAttention.VProj,
        "qkv_proj" => layer.SelfAttention.QkvProj,
        "o_proj" or "dense" => layer.SelfAttention.OProj,
        "gate_proj" => layer.DenseMlp.GateUpProj is null ? layer.DenseMlp.GateProj : null,
        "up_proj" => layer.DenseMlp.GateUpProj is null && layer.DenseMlp.GateProj is not null ? layer.DenseMlp.UpProj : null,
        "fc1" => layer.DenseMlp.GateProj is null ? layer.DenseMlp.UpProj : null,
        "down_proj" or "fc2" => layer.DenseMlp.DownProj,
        "gate_up_proj" => layer.DenseMlp.GateUpProj,
        _ => null,
    } ?? throw new MixLoraException($"target module \"{name}\" does not exist in this model (model_type {_model.Config.ModelType})");
}
