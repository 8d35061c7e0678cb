using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace MixLora.Training;

/// <summary>
/// <see cref="CausalLmLoss"/> of the logits h Wᵀ, computed from the final hidden states h without ever holding the
/// [B, T, V] logits: the rows go through the LM head a chunk at a time, and because the loss is a scalar, the forward
/// already computes its gradient with respect to h, dL/dh = (softmax(z) − onehot(target)) · w / Σw · W, one chunk at a
/// time. The backward only scales that saved [B, T, H] tensor by the incoming gradient. Same GEMMs as the plain
/// head + loss (one forward, one input-gradient GEMM), without the logits, log-softmax and their gradients in memory
/// (3–4 × [B·T, V] fp32: about 400 MiB for 1024 tokens and a 32k vocabulary).
/// </summary>
public sealed class ChunkedCausalLmLoss : SingleTensorFunction<ChunkedCausalLmLoss>
{
    /// <summary>Rows of logits in flight at once ([rows, V] fp32: 32 MiB at a 32k vocabulary).</summary>
    public const int DefaultChunkRows = 256;

    private const string ArgumentsKey = "arguments";

    public override string Name => nameof(ChunkedCausalLmLoss);

    /// <summary>
    /// hidden: [B, T, H] final hidden states; headWeight: [V, H]; inputIds: [B, T]; labelMask: [B, T] (1 where the token
    /// at that position is a target) or null for every position. Returns the mean cross-entropy over counted targets,
    /// an fp32 scalar equal to <c>CausalLmLoss.Compute(linear(hidden, headWeight), inputIds, labelMask)</c>. With
    /// <paramref name="softcap"/> the logits are cap·tanh(z/cap) first (Gemma 2's final_logit_softcapping);
    /// <paramref name="headBias"/> [V] is added to them (Phi's lm_head.bias).
    /// </summary>
    public static Tensor Compute(Tensor hidden, Tensor headWeight, Tensor inputIds, Tensor? labelMask = null, int chunkRows = DefaultChunkRows,
        double? softcap = null, Tensor? headBias = null)
    {
        if (hidden.dim() != 3 || inputIds.dim() != 2 || hidden.shape[0] != inputIds.shape[0] || hidden.shape[1] != inputIds.shape[1])
            throw new ArgumentException($"hidden [B, T, H] and input ids [B, T] disagree: [{string.Join(", ", hidden.shape)}] vs [{string.Join(", ", inputIds.shape)}]");
        if (chunkRows <= 0) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "must be positive");
        // Without a backward to come (no_grad, or frozen hidden states) the gradient GEMMs are skipped.
        bool needsGradient = is_grad_enabled() && hidden.requires_grad;
        return apply(hidden, new Arguments(headWeight, headBias, inputIds, labelMask, chunkRows, needsGradient, softcap));
    }

    /// <summary>
    /// The loss of <paramref name="model"/>'s own head on its final hidden states, with the head bias (Phi) and the
    /// final-logit soft cap (Gemma 2) its family has: what a training step wants, without the caller pairing them by hand.
    /// </summary>
    public static Tensor Compute(Models.CausalLM model, Tensor hidden, Tensor inputIds, Tensor? labelMask = null) =>
        Compute(hidden, model.LmHeadWeight, inputIds, labelMask, softcap: model.Config.FinalSoftcap, headBias: model.LmHeadBias);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var args = (Arguments)vars[1];
        using var scope = NewDisposeScope();
        long b = hidden.shape[0], t = hidden.shape[1], h = hidden.shape[2];
        var inputs = hidden.narrow(1, 0, t - 1).reshape(-1, h);                       // [B, T-1, H] -> [R, H]
        var targets = args.InputIds.narrow(1, 1, t - 1).reshape(-1);                  // [B, T-1] -> [R]
        var weights = args.LabelMask?.narrow(1, 1, t - 1).reshape(-1).to(ScalarType.Float32)
                      ?? ones(targets.shape[0], dtype: ScalarType.Float32, device: hidden.device); // [R]
        var denominator = weights.sum().clamp_min(1);
        var total = zeros(1, dtype: ScalarType.Float32, device: hidden.device);
        var gradInputs = args.NeedsGradient ? zeros_like(inputs) : null;              // [R, H]
        long rows = inputs.shape[0];
        for (long start = 0; start < rows; start += args.ChunkRows)
        {
            using var chunkScope = NewDisposeScope();
            long n = Math.Min(args.ChunkRows, rows - start);
            var z = nn.functional.linear(inputs.narrow(0, start, n), args.HeadWeight, args.HeadBias).to(ScalarType.Float32); // [n, H] -> [n, V]
            // Capped logits c·tanh(z/c); their derivative 1 − tanh² scales dL/dz below.
            var tanh = args.Softcap is { } cap ? z.div_(cap).tanh_() : null;
            if (tanh is not null) z = tanh * args.Softcap!.Value;
            var target = targets.narrow(0, start, n).unsqueeze(1);                    // [n, 1]
            var w = weights.narrow(0, start, n).unsqueeze(1);                         // [n, 1]
            var logSumExp = z.logsumexp(1, keepdim: true);                            // [n, 1]
            total.add_(((logSumExp - z.gather(1, target)) * w).sum());
            if (gradInputs is null) continue;
            // z becomes dL/dz = (softmax(z) − onehot) · w / Σw, in place: the chunk's only [n, V] buffer.
            z.sub_(logSumExp).exp_().scatter_add_(1, target, full_like(target, -1.0, dtype: ScalarType.Float32));
            z.mul_(w / denominator);
            if (tanh is not null) z.mul_(tanh.square().neg_().add_(1));
            gradInputs.narrow(0, start, n).copy_(matmul(z.to(args.HeadWeight.dtype), args.HeadWeight)); // [n, V] @ [V, H] -> [n, H]
        }
        if (gradInputs is not null)
        {
            var gradHidden = zeros_like(hidden);                                      // [B, T, H]; the last position predicts nothing
            gradHidden.narrow(1, 0, t - 1).copy_(gradInputs.view(b, t - 1, h));
            // libtorch takes its reference to saved tensors after forward returns: it must outlive this scope.
            ctx.save_for_backward([gradHidden.MoveToOuterDisposeScope()]);
        }
        return (total / denominator).squeeze(0).MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var gradHidden = ctx.get_saved_variables()[0];
        return [gradHidden * gradOutput.to(gradHidden.dtype), null!];                 // [B, T, H] · scalar
    }

    private sealed record Arguments(Tensor HeadWeight, Tensor? HeadBias, Tensor InputIds, Tensor? LabelMask, int ChunkRows, bool NeedsGradient, double? Softcap);
}
