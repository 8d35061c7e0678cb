using MixLora.Models;
using MixLora.Tokenization;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>
/// Greedy answers for the generate protocol and the exact metric: batched greedy decoding over left-padded prompts with
/// a KV cache; a row stops at EOS or as soon as its answer is settled (the caller's rule, e.g. a candidate word matched
/// and followed by another character).
/// </summary>
internal static class GreedyAnswerer
{
    /// <param name="isSettled">(prompt index, text generated so far) ⇒ whether more tokens could no longer change the answer.</param>
    /// <returns>Per row (targets × prompts): the generated text.</returns>
    /// <remarks>The few per-step tensors ([R, 1] ids, the growing mask) live until the call returns; the logits are freed each step.</remarks>
    public static string[] Generate(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<object> owners, Func<int, string, bool> isSettled, int maxNewTokens, IReadOnlyCollection<int> stopIds, int padId)
    {
        using var scope = NewDisposeScope();
        var device = model.EmbedTokens.device;
        var batch = PromptBatch.LeftPadded(prompts, owners, padId, device);
        int rowsCount = (int)batch.Ids.shape[0];
        int promptLength = (int)batch.Ids.shape[1];
        int budget = Math.Min(maxNewTokens, model.Config.MaxPositionEmbeddings - promptLength);
        var generated = Enumerable.Range(0, rowsCount).Select(_ => new List<int>()).ToArray();
        var texts = new string[rowsCount];
        Array.Fill(texts, "");
        var done = new bool[rowsCount];
        if (budget <= 0) return texts;

        using var cache = new KvCache(model.Layers.Count, initialCapacity: promptLength + budget);
        var mask = batch.AttentionMask ?? ones_like(batch.Ids);                          // [R, P]
        var positions = batch.Positions ?? arange(promptLength, dtype: ScalarType.Int64, device: device).expand(rowsCount, -1);
        var lastColumn = full(rowsCount, promptLength - 1, dtype: ScalarType.Int64, device: device);
        var output = model.Forward(batch.Ids, mask, cache, positions, batch.Rows, logitPositions: lastColumn);
        var nextPositions = positions.narrow(1, promptLength - 1, 1) + 1;                   // [R, 1]
        for (int step = 0; ; step++)
        {
            using var decodeStep = model.DecodeStep(rowsCount);
            var next = output.Logits.squeeze(1).argmax(1);                                  // [R, 1, V] -> [R]
            output.Dispose();
            var nextIds = next.cpu().data<long>().ToArray();
            for (int r = 0; r < rowsCount; r++)
            {
                if (done[r]) continue;
                if (stopIds.Contains((int)nextIds[r])) { done[r] = true; continue; }
                generated[r].Add((int)nextIds[r]);
                texts[r] = tokenizer.Decode(generated[r]);
                if (isSettled(r % prompts.Count, texts[r])) done[r] = true;
            }
            if (step + 1 >= budget || done.All(d => d)) break;
            mask = cat([mask, ones(rowsCount, 1, dtype: mask.dtype, device: device)], 1); // [R, P+s] -> [R, P+s+1]
            output = model.Forward(next.view(rowsCount, 1), mask, cache, nextPositions, batch.Rows);
            nextPositions = nextPositions + 1;
        }
        return texts;
    }
}
