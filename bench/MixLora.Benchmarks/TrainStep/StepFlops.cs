namespace MixLora.Benchmarks.TrainStep;

/// <summary>FLOPs of one step: "model" (what the step needs) and "executed" (what the variant's code path multiplies).</summary>
public readonly record struct FlopCount(double Model, double Executed);

/// <summary>
/// The PyTorch peer's FLOP accounting (peer_bench.py, step_flops and FLOP_FORMULA), rule for rule, so that our
/// MFU and the peer's divide the same numerator. Extended to the two routings the peer lacks (switch, dynamic).
/// </summary>
public static class StepFlops
{
    public const string Formula =
        "T=B*S tokens. Frozen weight (P params): 2PT fwd + 2PT bwd (activation grad only; none for layer-0 q/k/v "
        + "whose input is the frozen embedding). LoRA (P_lora=r(in+out)): 6*P_lora*T (fwd, dA, dB, dx; layer-0 q/k/v "
        + "without dx). Attention core: 4*B*S^2*H per layer fwd (full SxS), 8*B*S^2*H bwd. Router: 6*H*E*T per layer. "
        + "MixLoRA expert LoRAs on K*T rows (active experts only). Model FLOPs count the frozen FFN once per token "
        + "(3 GEMMs on T rows, = fused path); executed FLOPs: vanilla W1,W3,W2 on K*T rows, shared W2 on K*T rows. "
        + "LM head frozen (fwd + activation grad). Elementwise ops, softmax, loss and AdamW not counted. "
        + "MFU = model FLOPs / median step time / GEMM peak; HFU = executed FLOPs / time / peak. "
        + "(MixLora.NET addition, not in the peer:) mixlora_switch and mixlora_dynamic run the fused path and are "
        + "counted like mixlora_fused, except that the expert LoRAs run on experts_per_token*T rows instead of K*T, "
        + "experts_per_token being the measured mean number of (token, expert) assignments per token over the "
        + "measured steps (switch: at most 1, fewer when capacity drops tokens; dynamic: the top-p prefix length).";

    private sealed record Projection(string Name, double In, double Out);

    /// <param name="expertsPerToken">Measured expert rows per token; used only for mixlora_switch and mixlora_dynamic.</param>
    public static FlopCount Of(TrainStepShape shape, string variant, double expertsPerToken = 0)
    {
        double h = shape.Hidden, inter = shape.Intermediate, layers = shape.Layers, vocab = shape.Vocab;
        double s = shape.Seq, b = shape.Batch;
        int headDim = shape.Hidden / shape.Heads; // integer division, as the peer's H // nh
        double q = shape.Heads * headDim, kv = shape.KvHeads * headDim, t = b * s;
        Projection[] attention = [new("q_proj", h, q), new("k_proj", h, kv), new("v_proj", h, kv), new("o_proj", q, h)];
        Projection[] ffn = [new("gate_proj", h, inter), new("up_proj", h, inter), new("down_proj", inter, h)];
        double pAttn = attention.Sum(p => p.In * p.Out);
        double pQkv = attention.Take(3).Sum(p => p.In * p.Out);
        double pFfn = ffn.Sum(p => p.In * p.Out);
        double pHead = vocab * h;
        double attnCoreFwd = 4 * b * s * s * h * layers;

        double frozenFwd = 2 * t * (layers * (pAttn + pFfn) + pHead);
        if (variant == "base_fwd") return new(frozenFwd + attnCoreFwd, frozenFwd + attnCoreFwd);

        // Frozen attention projections and LM head: forward, then the activation gradient (none into layer-0 q/k/v).
        double common = 2 * t * (layers * pAttn + pHead) + 2 * t * (layers * pAttn - pQkv + pHead);
        common += attnCoreFwd * 3; // forward + 2x backward
        if (variant == "lora")
        {
            double lora = common + 4 * t * layers * pFfn
                + LoraCost(attention, TrainStepVariants.LoraRank, t, layer0NoDx: true)
                + LoraCost(ffn, TrainStepVariants.LoraRank, t, layer0NoDx: false);
            return new(lora, lora);
        }
        if (!TrainStepVariants.IsMixLora(variant)) throw new ArgumentException($"no FLOP model for variant '{variant}'", nameof(variant));

        double experts = TrainStepVariants.Experts, k = TrainStepVariants.TopK, r = TrainStepVariants.ExpertRank;
        double rowsPerToken = variant is "mixlora_switch" or "mixlora_dynamic" ? expertsPerToken : k;
        double total = common + LoraCost(attention, r, t, layer0NoDx: true);
        total += layers * 6 * t * h * experts;                        // router: forward, dG, dx
        total += LoraCost(ffn, r, rowsPerToken * t, layer0NoDx: false); // active experts only
        double model = total + 4 * t * layers * pFfn;                 // W1, W3, W2 once per token
        double executed = variant switch
        {
            "mixlora_vanilla" => total + 4 * k * t * layers * pFfn,
            "mixlora_shared" => total + 4 * t * layers * (2 * h * inter) + 4 * k * t * layers * (h * inter),
            _ => model,
        };
        return new(model, executed);

        // 6 r (in + out) per row (forward, dA, dB, dx); without the input gradient (layer-0 q/k/v) 4 r in + 6 r out.
        double LoraCost(Projection[] projections, double rank, double rows, bool layer0NoDx)
        {
            double cost = 0;
            foreach (var p in projections)
            {
                cost += layers * 6 * rows * rank * (p.In + p.Out);
                if (layer0NoDx && p.Name is "q_proj" or "k_proj" or "v_proj") cost -= 2 * rows * rank * p.In;
            }
            return cost;
        }
    }
}
