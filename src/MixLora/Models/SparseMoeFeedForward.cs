using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MixLora.Models;

/// <summary>
/// The FFN of a Mixtral layer (<c>block_sparse_moe</c>): a linear router over E experts, softmax, top-k, the k
/// probabilities renormalised to sum to one; each expert is a gated FFN (w1 = gate, w3 = up, w2 = down). Frozen: there
/// is no router jitter, and the router logits are not returned (no auxiliary loss on a base model).
/// </summary>
public sealed class SparseMoeFeedForward : nn.Module<Tensor, Tensor>
{
    private readonly WeightHolder _gate;
    private readonly ModuleList<FeedForward> _experts;

    public SparseMoeFeedForward(Parameter routerWeight, IReadOnlyList<FeedForward> experts, int topK) : base(nameof(SparseMoeFeedForward))
    {
        if (topK < 1 || topK > experts.Count) throw new ArgumentOutOfRangeException(nameof(topK), $"top-k {topK} must be in 1..{experts.Count}");
        _gate = new WeightHolder("gate", routerWeight);
        _experts = new ModuleList<FeedForward>(experts.ToArray());
        Experts = experts;
        TopK = topK;
        register_module("gate", _gate);
        register_module("experts", _experts);
    }

    /// <summary>Router weight [E, H].</summary>
    public Parameter RouterWeight => _gate.Weight;

    public IReadOnlyList<FeedForward> Experts { get; }

    public int TopK { get; }

    /// <summary>x: [B, T, H] -> [B, T, H].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(-1, x.shape[^1]);                                              // [B, T, H] -> [N, H]
        var probs = nn.functional.linear(flat, RouterWeight).to(ScalarType.Float32).softmax(-1); // [N, E]
        var (top, chosen) = probs.topk(TopK, dim: -1);                                      // [N, K] each
        var weights = (top / top.sum(-1, keepdim: true)).to(x.dtype);                       // renormalised: rows sum to 1
        var output = zeros_like(flat);
        // One host read of the per-expert counts; experts nobody chose are skipped.
        var counts = chosen.flatten().bincount(null, Experts.Count).data<long>().ToArray();
        for (int e = 0; e < Experts.Count; e++)
        {
            if (counts[e] == 0) continue;
            var picked = chosen.eq(e);                                                      // [N, K] bool
            var tokens = picked.any(-1).nonzero().squeeze(1);                               // [n_e]
            var weight = (weights * picked).sum(-1).index_select(0, tokens).unsqueeze(1);   // [N, K] -> [n_e, 1]
            var expertOut = Experts[e].Forward(flat.index_select(0, tokens), null);        // [n_e, H] -> [n_e, H]
            output.index_add_(0, tokens, expertOut * weight, 1);
        }
        return output.view(x.shape).MoveToOuterDisposeScope();                              // [N, H] -> [B, T, H]
    }
}
