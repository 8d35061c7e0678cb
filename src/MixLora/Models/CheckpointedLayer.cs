using MixLora.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace MixLora.Models;

/// <summary>
/// Activation checkpointing of one decoder layer as a custom autograd function: the forward runs without building a
/// graph and keeps only the layer's input; the backward recomputes the layer with gradients on (the random generators
/// rewound to their state before the forward, so dropout and router jitter draw the same numbers), back-propagates
/// into the adapter parameters and returns the gradient of the input. Outputs: the hidden state [B, T, H], then the
/// router logits [rows*T, E] of each routed block (they feed the router losses, so they stay differentiable).
/// </summary>
internal sealed class CheckpointedLayer : MultiTensorFunction<CheckpointedLayer>
{
    private const string ReplayKey = "replay";

    public override string Name => nameof(CheckpointedLayer);

    /// <param name="gradAnchor">A tensor that requires grad: it makes the function part of the graph even when the
    /// layer's input does not require grad (the first layer's input comes from the frozen embedding).</param>
    /// <param name="generators">Generators the layer may draw from; null stands for torch's global generator.</param>
    /// <param name="handoff">Shared by the layers of one forward: holds the input gradient a backward returned.</param>
    public static DecoderLayerOutput Run(DecoderLayer layer, Tensor hidden, DecoderContext context, int? window,
        IReadOnlyList<Generator?> generators, Tensor gradAnchor, GradientHandoff handoff)
    {
        var call = new Call(layer, context, context.AttentionMaskFor(window), generators, hidden.requires_grad, handoff);
        var outputs = apply(hidden, gradAnchor, call);
        var routerLogits = call.Owners.Select((owner, i) => new OwnedRouterLogits(owner, outputs[i + 1])).ToList();
        return new DecoderLayerOutput(outputs[0], routerLogits);
    }

    public override List<Tensor> forward(AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var call = (Call)vars[2];
        var before = call.Generators.Select(GeneratorState.Capture).ToList();
        var output = call.Layer.Forward(hidden, call.Context);                                // runs under no_grad here
        call.Owners.AddRange(output.RouterLogits.Select(r => r.Owner));
        // Tensors of the context are saved with the graph: the caller disposes its own handles after the forward.
        ctx.save_for_backward([hidden, call.Context.Cos, call.Context.Sin, call.Context.PaddingMask!, call.Mask!]);
        ctx.save_data(ReplayKey, new Replay(call, before));
        // Unused outputs (router logits without a router loss) get no gradient instead of TorchSharp's zeros, whose
        // template tensors would be gone by the time the backward runs.
        ctx.set_materialize_grads(false);
        return [output.Hidden, .. output.RouterLogits.Select(r => r.Logits)];
    }

    public override List<Tensor> backward(AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var replay = (Replay)ctx.get_data(ReplayKey);
        var call = replay.Call;
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var input = saved[0].detach().requires_grad_(call.InputRequiresGrad);
        var mask = saved[4];
        var context = new DecoderContext(saved[1], saved[2], call.Context.PastLength, call.Context.QueryLength, saved[3], null, _ => mask)
        {
            Training = call.Context.Training,
            Rows = call.Context.Rows,
            IsRecomputation = true,
        };
        var output = GeneratorState.Replay(call.Generators, replay.GeneratorStates, () =>
        {
            using (enable_grad()) return call.Layer.Forward(input, context);
        });
        var recomputed = new List<Tensor> { output.Hidden };
        recomputed.AddRange(output.RouterLogits.Select(r => r.Logits));
        var pairs = recomputed.Zip(gradOutputs).Where(p => p.Second is { IsInvalid: false } && p.First.requires_grad).ToList();
        // Accumulates into the adapter parameters' .grad (and the input's) like the uncheckpointed graph would.
        if (pairs.Count > 0) torch.autograd.backward(pairs.Select(p => p.First).ToList(), pairs.Select(p => p.Second).ToList());
        var inputGrad = call.InputRequiresGrad ? input.grad : null;
        call.Handoff.Pass(inputGrad);
        return [inputGrad!, null!, null!];
    }

    /// <summary>What one application needs in its backward (held by the graph node, not by the function instance).</summary>
    private sealed class Call(DecoderLayer layer, DecoderContext context, Tensor? mask, IReadOnlyList<Generator?> generators,
        bool inputRequiresGrad, GradientHandoff handoff)
    {
        public DecoderLayer Layer { get; } = layer;
        public DecoderContext Context { get; } = context;
        public Tensor? Mask { get; } = mask;
        public IReadOnlyList<Generator?> Generators { get; } = generators;
        public bool InputRequiresGrad { get; } = inputRequiresGrad;
        public List<object> Owners { get; } = [];
        public GradientHandoff Handoff { get; } = handoff;
    }

    /// <summary>
    /// Keeps the gradient a backward returns alive until libtorch has copied it (it does so before the next layer's
    /// backward starts), then frees it: the gradients of all layers' inputs are never held at once.
    /// </summary>
    internal sealed class GradientHandoff
    {
        private Tensor? _pending;

        public void Pass(Tensor? gradient)
        {
            _pending?.Dispose();
            _pending = gradient?.DetachFromDisposeScope();
        }
    }

    private sealed record Replay(Call Call, IReadOnlyList<byte[]> GeneratorStates);
}
