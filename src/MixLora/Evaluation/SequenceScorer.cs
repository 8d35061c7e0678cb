using MixLora.Models;
using MixLora.Tokenization;
using static TorchSharp.torch;

namespace MixLora.Evaluation;

/// <summary>
/// <see cref="ChoiceScoring.Sequence"/>: one row per (example, candidate) holding prompt + candidate, tokenised
/// together; the score of a candidate is Σ log p(token | everything before it) over the tokens after the part shared
/// with the prompt's own tokenisation.
/// </summary>
internal static class SequenceScorer
{
    /// <param name="candidateTexts">Per prompt, its candidates' texts (the counts may differ between prompts).</param>
    /// <returns>Per (target, prompt): index of the most likely candidate.</returns>
    public static int[] Predict(CausalLM model, ITextTokenizer tokenizer, IReadOnlyList<string> prompts, IReadOnlyList<IReadOnlyList<string>> candidateTexts,
        IReadOnlyList<object> owners, int padId, int cutoff)
    {
        var rows = new List<IReadOnlyList<int>>();
        var starts = new List<int>();
        for (int p = 0; p < prompts.Count; p++)
        {
            var prompt = prompts[p];
            var promptIds = tokenizer.Encode(prompt);
            foreach (var text in candidateTexts[p])
            {
                var full = tokenizer.Encode(prompt + text);
                int shared = CommonPrefix(full, promptIds);
                if (shared == full.Count)
                    throw new MixLoraException($"candidate text \"{text}\" adds no token after the prompt \"{Tail(prompt)}\"");
                int continuation = full.Count - Math.Max(shared, 1);                                    // the BOS is never scored
                var kept = PromptTruncation.KeepEnd(full, cutoff, tokenizer.BosId);
                rows.Add(kept);
                starts.Add(Math.Max(1, kept.Count - continuation));
            }
        }

        using var scope = NewDisposeScope();
        var device = model.EmbedTokens.device;
        var batch = PromptBatch.RightPadded(rows, owners, padId, device);
        int width = rows.Select((r, i) => r.Count - starts[i]).Max();
        var positions = new long[rows.Count * width];                                                   // logits at t−1 predict token t
        var targets = new long[rows.Count * width];
        var mask = new float[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            for (int k = 0; k < width; k++)
            {
                int t = starts[r] + k;
                bool inside = t < rows[r].Count;
                positions[r * width + k] = inside ? t - 1 : rows[r].Count - 1;
                targets[r * width + k] = inside ? rows[r][t] : 0;
                mask[r * width + k] = inside ? 1 : 0;
            }
        }
        // Every target repeats the same rows, so the per-row tables are tiled owners.Count times: [n·C, K] -> [R, K].
        var at = tensor(positions, [rows.Count, width], device: device).repeat(owners.Count, 1);
        var ids = tensor(targets, [rows.Count, width], device: device).repeat(owners.Count, 1);
        var real = tensor(mask, [rows.Count, width], device: device).repeat(owners.Count, 1);
        using var output = model.Forward(batch.Ids, batch.AttentionMask, rows: batch.Rows, logitPositions: at);
        var logProbs = output.Logits.log_softmax(-1).gather(2, ids.unsqueeze(2)).squeeze(2);            // [R, K, V] -> [R, K]
        var scores = (logProbs * real).sum([1L]).cpu().data<float>().ToArray();                           // [R, K] -> [R]
        return ArgmaxPerPrompt(scores, candidateTexts.Select(c => c.Count).ToList(), owners.Count);
    }

    /// <summary>Per (target, prompt): the first candidate with the highest score in that prompt's run of rows.</summary>
    private static int[] ArgmaxPerPrompt(float[] scores, IReadOnlyList<int> counts, int targets)
    {
        var best = new int[targets * counts.Count];
        int row = 0;
        for (int i = 0; i < best.Length; i++)
        {
            int count = counts[i % counts.Count];
            for (int c = 1; c < count; c++)
            {
                if (scores[row + c] > scores[row + best[i]]) best[i] = c;
            }
            row += count;
        }
        return best;
    }

    private static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = 0;
        while (n < a.Count && n < b.Count && a[n] == b[n]) n++;
        return n;
    }

    private static string Tail(string text) => text.Length <= 40 ? text : "…" + text[^40..];
}
