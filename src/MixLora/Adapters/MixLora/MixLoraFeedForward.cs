using MixLora.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Adapters;

/// <summary>
/// The MixLoRA mixture-of-experts FFN (spec §1.3–1.9): a trainable fp32 router over E experts, each expert being the
/// frozen base FFN plus its own LoRAs. Takes over a decoder layer's FFN slot through <see cref="IFeedForwardReplacement"/>.
/// Parameters: <c>moe_gate</c> [E, H] and <c>experts.{e}.{gate_proj,up_proj,down_proj}.{lora_A,lora_B[,magnitude]}</c>.
/// </summary>
public sealed class MixLoraFeedForward : nn.Module<Tensor, Tensor>, IFeedForwardReplacement
{
    private readonly Parameter _routerWeight;
    private readonly Func<Tensor, Tensor> _activation;
    private readonly Generator? _generator;

    /// <param name="layerIndex">The decoder layer (0-based) this block sits in; keys router statistics.</param>
    /// <param name="routerWeight">Initial router weight [E, H] (copied into the fp32 parameter <c>moe_gate</c>).</param>
    /// <param name="experts">One entry per expert, E = <see cref="MoeSettings.NumExperts"/>.</param>
    /// <param name="activation">The expert activation: the adapter's act_fn, else the base model's hidden_act.</param>
    /// <param name="generator">Random source for router jitter and switch FFN dropout (reproducible runs).</param>
    public MixLoraFeedForward(int layerIndex, Tensor routerWeight, IReadOnlyList<ExpertLoras> experts, MoeSettings settings,
        string activation, Generator? generator = null) : base(nameof(MixLoraFeedForward))
    {
        settings.Validate();
        if (routerWeight.dim() != 2 || routerWeight.shape[0] != settings.NumExperts)
            throw new MixLoraException(
                $"layer {layerIndex}: moe_gate must be [num_experts = {settings.NumExperts}, hidden], got [{string.Join(", ", routerWeight.shape)}]");
        if (experts.Count != settings.NumExperts)
            throw new MixLoraException($"layer {layerIndex}: {experts.Count} experts given, num_experts is {settings.NumExperts}");
        LayerIndex = layerIndex;
        Settings = settings;
        Experts = experts;
        ActivationName = activation;
        _activation = Activations.Get(activation);
        _generator = generator;
        using (no_grad())
            _routerWeight = new Parameter(routerWeight.detach().to(ScalarType.Float32).clone(), requires_grad: true);
        register_parameter("moe_gate", _routerWeight);
        register_module("experts", new ModuleList<ExpertModule>(experts.Select(e => new ExpertModule(e)).ToArray()));
    }

    public int LayerIndex { get; }
    public MoeSettings Settings { get; }
    public string ActivationName { get; }

    /// <summary>The router ("moe_gate") weight [E, H], fp32, trainable.</summary>
    public Parameter RouterWeight => _routerWeight;

    public IReadOnlyList<ExpertLoras> Experts { get; }

    /// <summary>When set, every forward adds its routing decisions (padding excluded) to it.</summary>
    public RouterStatistics? Statistics { get; set; }

    /// <summary>
    /// The path <see cref="MoeSettings.Path"/> resolves to: Auto means Fused (the fastest, see the benchmark);
    /// Fused falls back to Shared when an expert has DoRA on down_proj (its per-expert rescaling of W2 a cannot be
    /// shared). A down_proj bias is handled exactly by Fused (scaled by each token's weight sum).
    /// </summary>
    public ExpertPath ResolvePath(FeedForward baseFfn)
    {
        if (baseFfn.UpProj.InFeatures != _routerWeight.shape[1])
            throw new MixLoraException(
                $"layer {LayerIndex}: moe_gate has hidden size {_routerWeight.shape[1]} but the FFN's is {baseFfn.UpProj.InFeatures}");
        var path = Settings.Path == ExpertPath.Auto ? ExpertPath.Fused : Settings.Path;
        bool downHasDora = Experts.Any(e => e.DownProj?.Settings.UseDora == true);
        return path == ExpertPath.Fused && downHasDora ? ExpertPath.Shared : path;
    }

    /// <summary>hidden [B, T, H] -> output [B, T, H] and raw router logits [B·T, E] fp32.</summary>
    public FeedForwardOutput Forward(Tensor hidden, FeedForward baseFfn, DecoderContext context)
    {
        Tensor? mask = null;
        if (context.PaddingMask is { } padding)
        {
            long t = hidden.shape[1];
            mask = padding.narrow(1, padding.shape[1] - t, t);                        // [B, past + T] -> [B, T]
        }
        return Run(hidden, baseFfn, context.Training, mask, recordStatistics: !context.IsRecomputation);
    }

    /// <summary>
    /// The block on its own. <paramref name="training"/> enables jitter and switch FFN dropout (LoRA dropout follows
    /// each LoRA module's train/eval mode); <paramref name="paddingMask"/> [B, T] (1 = real token) only filters statistics.
    /// </summary>
    public FeedForwardOutput Forward(Tensor hidden, FeedForward baseFfn, bool training, Tensor? paddingMask = null) =>
        Run(hidden, baseFfn, training, paddingMask, recordStatistics: true);

    private FeedForwardOutput Run(Tensor hidden, FeedForward baseFfn, bool training, Tensor? paddingMask, bool recordStatistics)
    {
        if (hidden.dim() != 3 || hidden.shape[2] != _routerWeight.shape[1])
            throw new ArgumentException($"hidden must be [B, T, {_routerWeight.shape[1]}], got [{string.Join(", ", hidden.shape)}]");
        // A decode step's few tokens: the same function in one pass (see DecodeExperts for when it applies).
        if (!training && (!recordStatistics || Statistics is null) && ResolvePath(baseFfn) != ExpertPath.Vanilla
            && DecodeExperts.TryRun(hidden, baseFfn, _routerWeight, Experts, Settings, ActivationName) is { } fast)
            return fast;
        using var scope = NewDisposeScope();
        var path = ResolvePath(baseFfn);
        var plan = MoeRouting.Route(hidden, _routerWeight, Settings, training, _generator);
        var output = ExpertPaths.Run(path, plan, baseFfn, Experts, _activation);    // [N, H] fp32
        if (plan.PassThrough is not null) output = output + plan.ExpertInput.to(ScalarType.Float32) * plan.PassThrough;
        if (plan.OutputScale is not null) output = output * plan.OutputScale;
        // The reference's switch block returns its input at inference (DEFECT, spec §1.8); we return the real output.
        if (Settings.Strategy == RoutingStrategy.Switch && training && Settings.FfnDropout > 0)
            output = Dropout(output, Settings.FfnDropout);
        var result = output.view(hidden.shape).to(hidden.dtype);                      // [N, H] -> [B, T, H]
        if (recordStatistics && Statistics is { } statistics)
        {
            using var _ = no_grad();
            statistics.Record(LayerIndex, plan.Probabilities, plan.AssignmentCounts(), paddingMask?.reshape(-1));
        }
        return new FeedForwardOutput(result.MoveToOuterDisposeScope(), plan.Logits.MoveToOuterDisposeScope());
    }

    /// <summary>The routing of hidden [B, T, H] alone, without running the experts.</summary>
    public RoutingDecision Route(Tensor hidden, bool training = false)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var plan = MoeRouting.Route(hidden, _routerWeight, Settings, training, _generator);
        long n = plan.Logits.shape[0];
        var weights = zeros(n, Settings.NumExperts, dtype: ScalarType.Float32, device: hidden.device);
        for (int e = 0; e < Settings.NumExperts; e++)
        {
            var tokens = plan.Tokens[e];
            if (tokens.numel() == 0) continue;
            var w = plan.Weights[e]?.reshape(-1) ?? plan.OutputScale!.reshape(-1).index_select(0, tokens);
            weights.select(1, e).index_add_(0, tokens, w, 1.0);
        }
        var selected = plan.AssignmentCounts().gt(0);
        var dropped = plan.PassThrough?.reshape(-1).gt(0) ?? zeros(n, dtype: ScalarType.Bool, device: hidden.device);
        return new RoutingDecision(plan.Logits.MoveToOuterDisposeScope(), plan.Probabilities.MoveToOuterDisposeScope(),
            weights.MoveToOuterDisposeScope(), selected.MoveToOuterDisposeScope(), dropped.MoveToOuterDisposeScope());
    }

    public override Tensor forward(Tensor input) =>
        throw new InvalidOperationException("MixLoraFeedForward needs the base FFN; call Forward(hidden, baseFfn, ...).");

    private Tensor Dropout(Tensor x, double p)
    {
        var keep = empty_like(x).bernoulli_(1.0 - p, _generator);
        return x * keep / (1.0 - p);
    }

    /// <summary>Registers one expert's LoRAs under gate_proj / up_proj / down_proj / gate_up_proj.</summary>
    private sealed class ExpertModule : nn.Module
    {
        public ExpertModule(ExpertLoras loras) : base("expert")
        {
            if (loras.GateProj is not null) register_module("gate_proj", loras.GateProj);
            if (loras.UpProj is not null) register_module("up_proj", loras.UpProj);
            if (loras.DownProj is not null) register_module("down_proj", loras.DownProj);
            if (loras.GateUpProj is not null) register_module("gate_up_proj", loras.GateUpProj);
        }
    }
}
