using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>
/// The choice protocol (spec §8.4): one forward over right-padded prompts, the next-token logits at each row's last
/// prompt token restricted to the candidate ids, argmax.
/// </summary>
internal static class ChoiceScorer
{
    /// <returns>Per row (targets × prompts): index of the predicted candidate.</returns>
    public static long[] Predict(CausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<object> owners,
        IReadOnlyList<int> candidateIds, int padId)
    {
        using var scope = NewDisposeScope();
        var device = model.EmbedTokens.device;
        var batch = PromptBatch.RightPadded(prompts, owners, padId, device);
        using var output = model.Forward(batch.Ids, batch.AttentionMask, rows: batch.Rows, logitPositions: batch.LastPositions);
        var candidates = tensor(candidateIds.Select(i => (long)i).ToArray(), device: device);
        var restricted = output.Logits.squeeze(1).index_select(1, candidates);   // [R, 1, V] -> [R, C]
        return restricted.argmax(1).cpu().data<long>().ToArray();
    }
}
