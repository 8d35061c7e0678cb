using System.Diagnostics;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Benchmarks.Decode;

/// <summary>Times of one generation: the prefill (prompt forward + first greedy token) and the cached decode steps after it.</summary>
public sealed record DecodeTiming(double PrefillSeconds, double DecodeSeconds);

/// <summary>
/// Greedy generation for a batch of prompts, driven by hand over CausalLM.Forward with a KvCache (the library's
/// TokenGenerator decodes one sequence; the batch-8 rate needs several rows at once).
/// </summary>
public static class DecodeRunner
{
    /// <param name="prompts">Token ids [B, P].</param>
    /// <param name="lastLogits">When given, receives a copy of the prefill's last-position logits [B, V] (to compare configurations).</param>
    public static DecodeTiming Run(CausalLM model, Tensor prompts, int newTokens, Action<Tensor>? lastLogits = null)
    {
        long batch = prompts.shape[0], promptLength = prompts.shape[1];
        using var noGrad = no_grad();
        using var cache = new KvCache(model.Layers.Count, initialCapacity: (int)promptLength + newTokens + 1);
        var clock = Stopwatch.StartNew();
        Tensor next;
        double prefill;
        using (var scope = NewDisposeScope())
        {
            // Only the last position's logits are needed for the first token: [B, P, V] would be wasted work.
            var last = full([batch], promptLength - 1, dtype: ScalarType.Int64);                 // [B]
            using var output = model.Forward(prompts, cache: cache, logitPositions: last);     // logits [B, 1, V]
            var logits = output.Logits.squeeze(1);                                              // [B, 1, V] -> [B, V]
            next = logits.argmax(-1, keepdim: true).MoveToOuterDisposeScope();                  // [B, V] -> [B, 1]
            prefill = clock.Elapsed.TotalSeconds;
            // The copy outlives this scope: the caller owns (and disposes) it.
            lastLogits?.Invoke(logits.clone().DetachFromDisposeScope());
        }
        clock.Restart();
        for (int step = 0; step < newTokens; step++)
        {
            using var scope = NewDisposeScope();
            using var decodeStep = model.DecodeStep(batch);
            using var output = model.Forward(next, cache: cache);                              // logits [B, 1, V]
            var token = output.Logits.squeeze(1).argmax(-1, keepdim: true);                     // [B, 1, V] -> [B, 1]
            next.Dispose();
            next = token.MoveToOuterDisposeScope();
        }
        double decode = clock.Elapsed.TotalSeconds;
        next.Dispose();
        return new DecodeTiming(prefill, decode);
    }
}
