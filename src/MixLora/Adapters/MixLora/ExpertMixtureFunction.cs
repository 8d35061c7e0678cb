using MixLora.Models;
using MixLora.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace MixLora.Adapters;

/// <summary>
/// The shared and fused expert paths as one autograd node, so that a training forward keeps only what the backward
/// cannot cheaply rebuild: the expert input x [N, H], the frozen W1 x and W3 x [N, I] and the routing. Autograd of the
/// plain code would keep, per layer, every expert's gathered pre-activations, activation and products (about four
/// [K·N, I] tensors). The backward replays each expert from the saved tensors (gathers, its small LoRA GEMMs and the
/// activation: no frozen GEMM is repeated), back-propagates through that replay, and finishes with the frozen
/// input gradients dx = dg0 W1 + du0 W3 for all tokens at once. LoRA dropout draws the same masks in the replay (the
/// global generator is rewound to its state before the forward). Requires plain LoRA (no DoRA) on down_proj.
/// </summary>
internal sealed class ExpertMixtureFunction : MultiTensorFunction<ExpertMixtureFunction>
{
    private const string CallKey = "call";

    public override string Name => nameof(ExpertMixtureFunction);

    /// <summary>Whether the function computes these experts exactly (DoRA on down_proj rescales W2 aₑ per expert).</summary>
    public static bool Supports(IReadOnlyList<ExpertLoras> experts) => experts.All(e => e.DownProj?.Settings.UseDora != true);

    /// <summary>Σₑ wₑ · FFNₑ(x) as an fp32 [N, H] tensor that back-propagates into x, the routing weights and the LoRAs.</summary>
    public static Tensor Run(RoutingPlan plan, FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation, bool fuseDown)
    {
        using var scope = NewDisposeScope();
        var x = plan.ExpertInput;                                                     // [N, H]
        var counts = plan.Tokens.Select(t => t.shape[0]).ToArray();
        var tokens = cat(plan.Tokens, 0);                                             // [M] token of each (expert, slot) pair
        // Switch routing has no per-pair weight (its output is scaled afterwards): weight 1, which multiplies exactly.
        var weights = plan.Weights[0] is null
            ? ones(tokens.shape[0], 1, dtype: ScalarType.Float32, device: x.device)
            : cat(plan.Weights.Select(w => w!).ToArray(), 0);                         // [M, 1]
        // Makes the node part of the graph even when neither x nor the weights need a gradient (LoRAs still do).
        var anchor = empty(0, requires_grad: true);
        var call = new Call(ffn, experts, activation, fuseDown, counts, x.requires_grad, weights.requires_grad);
        var output = apply(x, weights, tokens, anchor, call)[0];
        return output.MoveToOuterDisposeScope();
    }

    public override List<Tensor> forward(AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weights = (Tensor)vars[1];
        var tokens = (Tensor)vars[2];
        var call = (Call)vars[4];
        using var scope = NewDisposeScope();
        var gate = call.Ffn.GateProj?.ForwardBase(x);                                 // [N, H] -> [N, I], shared by the experts (none in Phi)
        var up = call.Ffn.UpProj.ForwardBase(x);                                      // [N, H] -> [N, I]
        call.GeneratorBefore = call.DrawsDropout ? GeneratorState.Capture() : null;
        var output = ExpertPaths.Mixture(x, gate, up, tokens.split(call.Counts), weights.split(call.Counts),
            call.Ffn, call.Experts, call.Activation, call.FuseDown);                  // [N, H] fp32
        // libtorch takes its references to the saved tensors after forward returns: they must outlive this scope.
        // An ungated FFN saves an empty stand-in for the gate (saved tensors cannot be null).
        var savedGate = (gate ?? empty(0, device: x.device)).MoveToOuterDisposeScope();
        ctx.save_for_backward([x, savedGate, up.MoveToOuterDisposeScope(), weights, tokens]);
        ctx.save_data(CallKey, call);
        return [output.MoveToOuterDisposeScope()];
    }

    public override List<Tensor> backward(AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var call = (Call)ctx.get_data(CallKey);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var x = saved[0].detach();
        var gate = call.Ffn.GateProj is null ? null : saved[1].detach();
        var up = saved[2].detach();
        var tokensByExpert = saved[4].split(call.Counts);
        var weightsByExpert = saved[3].detach().split(call.Counts);
        var gradOutput = gradOutputs[0].to(ScalarType.Float32);                       // [N, H]
        var w1 = call.Ffn.GateProj?.Weight;
        var w2 = call.Ffn.DownProj.Weight;
        var w3 = call.Ffn.UpProj.Weight;
        // Fused: the mixture Σₑ wₑ aₑ went through W2 once, so its gradient is one GEMM for all tokens.
        var gradMixed = call.FuseDown ? matmul(gradOutput.to(w2.dtype), w2).to(ScalarType.Float32) : null; // [N, H] @ [H, I] -> [N, I]
        var gradGate = gate is null ? null : zeros_like(gate);                        // [N, I]
        var gradUp = zeros_like(up);                                                  // [N, I]
        var gradX = call.InputRequiresGrad ? zeros_like(x) : null;                    // [N, H]
        // With LoRA dropout, torch's global generator is rewound so that the replay draws the forward's masks.
        Generator?[] generators = call.GeneratorBefore is null ? [] : [null];
        byte[][] before = call.GeneratorBefore is null ? [] : [call.GeneratorBefore];
        var gradWeights = GeneratorState.Replay(generators, before, () => Enumerable.Range(0, call.Experts.Count)
            .Select(e => tokensByExpert[e].numel() == 0
                ? zeros(0, 1, dtype: ScalarType.Float32, device: x.device)
                : ReplayExpert(call, e, x, gate, up, tokensByExpert[e], weightsByExpert[e], gradOutput, gradMixed, gradGate, gradUp, gradX))
            .ToList());                                                               // per expert [n_e, 1]
        // The frozen projections' input gradients, once for all tokens: [N, I] @ [I, H] -> [N, H].
        gradX?.add_(matmul(gradUp.to(w3.dtype), w3).to(gradX.dtype));
        if (gradGate is not null) gradX?.add_(matmul(gradGate.to(w1!.dtype), w1).to(gradX.dtype));
        var gradWeight = call.WeightsRequireGrad ? cat(gradWeights, 0) : null;       // [M, 1]
        return [gradX?.MoveToOuterDisposeScope()!, gradWeight?.MoveToOuterDisposeScope()!, null!, null!, null!];
    }

    /// <summary>
    /// Rebuilds expert <paramref name="e"/>'s part of the forward with gradients on and back-propagates the output
    /// gradient through it: LoRA gradients accumulate in their parameters, the gradients of the gathered g0, u0 and x
    /// rows are added into the [N, ·] accumulators. Returns the gradient of the expert's routing weights [n_e, 1].
    /// </summary>
    private static Tensor ReplayExpert(Call call, int e, Tensor x, Tensor? gate, Tensor up, Tensor tokens, Tensor weights,
        Tensor gradOutput, Tensor? gradMixed, Tensor? gradGate, Tensor gradUp, Tensor? gradX)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var expert = call.Experts[e];
        var xe = expert.HasInputLora ? x.index_select(0, tokens).requires_grad_(gradX is not null) : null; // [n_e, H]
        var ge = gate?.index_select(0, tokens).requires_grad_(true);                 // [n_e, I]
        var ue = up.index_select(0, tokens).requires_grad_(true);                    // [n_e, I]
        var we = weights.requires_grad_(true);                                        // [n_e, 1]
        var activated = ExpertPaths.ExpertActivation(xe, ge, ue, expert, call.Activation); // [n_e, I]
        var gradOutputE = gradOutput.index_select(0, tokens);                        // [n_e, H]
        // W2's part of wₑ (W2 aₑ): its gradient with respect to wₑ aₑ is the output gradient through W2.
        var gradMixedE = gradMixed?.index_select(0, tokens)
            ?? matmul(gradOutputE.to(call.Ffn.DownProj.Weight.dtype), call.Ffn.DownProj.Weight).to(ScalarType.Float32); // [n_e, I]
        var outputs = new List<Tensor> { ExpertPaths.Weighted(activated.to(ScalarType.Float32), we) };
        var grads = new List<Tensor> { gradMixedE };
        if (expert.DownProj is { } downLora)
        {
            outputs.Add(ExpertPaths.Weighted(downLora.Delta(activated), we));         // [n_e, H]
            grads.Add(gradOutputE);
        }
        if (call.Ffn.DownProj.Bias is { } bias)
        {
            outputs.Add(we * bias.to(ScalarType.Float32));                            // [n_e, 1] * [H] -> [n_e, H]
            grads.Add(gradOutputE);
        }
        torch.autograd.backward(outputs, grads);
        if (ge is not null) gradGate!.index_add_(0, tokens, ge.grad!, 1.0);
        gradUp.index_add_(0, tokens, ue.grad!, 1.0);
        if (gradX is not null && xe?.grad is { } gradXe) gradX.index_add_(0, tokens, gradXe.to(gradX.dtype), 1.0);
        return we.grad!.MoveToOuterDisposeScope();
    }

    /// <summary>What one application needs in its backward (held by the graph node).</summary>
    private sealed class Call(FeedForward ffn, IReadOnlyList<ExpertLoras> experts, Func<Tensor, Tensor> activation, bool fuseDown,
        long[] counts, bool inputRequiresGrad, bool weightsRequireGrad)
    {
        public FeedForward Ffn { get; } = ffn;
        public IReadOnlyList<ExpertLoras> Experts { get; } = experts;
        public Func<Tensor, Tensor> Activation { get; } = activation;
        public bool FuseDown { get; } = fuseDown;
        public long[] Counts { get; } = counts;
        public bool InputRequiresGrad { get; } = inputRequiresGrad;
        public bool WeightsRequireGrad { get; } = weightsRequireGrad;

        /// <summary>LoRA dropout draws from torch's global generator: the replay must draw the same masks.</summary>
        public bool DrawsDropout => Experts.Any(e => e.All.Any(lora => lora.IsDropoutActive));

        public byte[]? GeneratorBefore { get; set; }
    }
}
