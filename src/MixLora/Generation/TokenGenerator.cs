using MixLora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Generation;

/// <summary>Autoregressive decoding of one sequence with a KV cache (or full recompute).</summary>
public sealed class TokenGenerator
{
    private readonly CausalLM _model;

    public TokenGenerator(CausalLM model) => _model = model;

    /// <summary>
    /// Yields new token ids after <paramref name="promptIds"/> until a stop id is produced (not yielded),
    /// <see cref="SamplingOptions.MaxNewTokens"/> is reached, or the model's context is full.
    /// </summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> promptIds, SamplingOptions options, IReadOnlyCollection<int> stopIds)
    {
        options.Validate();
        if (promptIds.Count == 0) throw new MixLoraException("the prompt must contain at least one token (e.g. BOS)");
        PromptEncoding.ThrowIfOutsideVocabulary(promptIds, _model.Config.VocabSize);
        int maxLength = _model.Config.MaxPositionEmbeddings;
        if (promptIds.Count >= maxLength)
            throw new MixLoraException($"the prompt has {promptIds.Count} tokens; the model's context (max_position_embeddings) is {maxLength}");
        int budget = Math.Min(options.MaxNewTokens, maxLength - promptIds.Count);
        var sampler = new LogitsProcessor(options);
        var sequence = new List<int>(promptIds);
        var device = _model.EmbedTokens.device;
        using var noGrad = no_grad();
        using var cache = options.UseCache ? new KvCache(_model.Layers.Count, initialCapacity: Math.Min(maxLength, promptIds.Count + budget)) : null;
        int fed = 0; // tokens of `sequence` already in the cache
        for (int step = 0; step < budget; step++)
        {
            int next;
            // After the prompt's forward, each step feeds one token (without a cache: the whole growing sequence).
            using (var scope = NewDisposeScope())
            using (cache is not null && fed > 0 ? _model.DecodeStep(1) : null)
            {
                var window = cache is null ? sequence : sequence.Skip(fed).ToList();
                var ids = tensor(window.Select(i => (long)i).ToArray(), device: device).unsqueeze(0); // [1, T]
                // The head at the last position only: [1, 1, V], not [1, T, V] (262k-token vocabularies).
                var last = tensor(new long[] { window.Count - 1 }, device: device);                  // [1]
                using var output = _model.Forward(ids, cache: cache, logitPositions: last);
                fed = sequence.Count;
                next = sampler.Next(output.Logits[0, 0], sequence);                                  // [V]
            }
            if (stopIds.Contains(next)) yield break;
            sequence.Add(next);
            yield return next;
        }
    }
}
