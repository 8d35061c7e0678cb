using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using MixLora.Adapters;
using MixLora.Generation;
using MixLora.IO;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Serving;

/// <summary>Options of a <see cref="GenerationScheduler"/>.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Most sequences decoded together; further requests wait their turn.</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>Names the base model answers to besides "base" (e.g. its folder name).</summary>
    public IReadOnlyList<string> BaseNames { get; init; } = [];
}

/// <summary>
/// Continuous batching across adapters: one thread owns the model and decodes every active sequence of every adapter in
/// the same forward step (each adapter's LoRAs and experts apply only to its rows). A new request is prefilled alone and
/// joins the batch at the next step; a finished or cancelled one leaves at once; no row is ever re-prefilled. Callers
/// on any thread submit requests and read their chunks asynchronously.
/// </summary>
public sealed class GenerationScheduler : IDisposable
{
    /// <summary>The name the base model always answers to.</summary>
    public const string BaseModelName = "base";

    private readonly PretrainedModel _model;
    private readonly SchedulerOptions _options;
    private readonly Dictionary<string, object> _owners = new(StringComparer.Ordinal);
    private readonly List<object> _ownerOrder = [];
    private readonly ConcurrentQueue<ActiveSequence> _pending = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private int _active;
    private long _liveTensors;

    /// <param name="adapters">Adapters attached to <paramref name="model"/>, by the name requests use.</param>
    public GenerationScheduler(PretrainedModel model, IReadOnlyDictionary<string, Adapter> adapters, SchedulerOptions? options = null)
    {
        _model = model;
        _options = options ?? new SchedulerOptions();
        if (_options.MaxBatch < 1) throw new MixLoraException($"the batch size must be at least 1, got {_options.MaxBatch}");
        // The base model's rows belong to an owner no adapter has: they see no LoRA delta and the plain FFN.
        var baseOwner = new object();
        _ownerOrder.Add(baseOwner);
        foreach (var name in _options.BaseNames.Prepend(BaseModelName)) _owners[name] = baseOwner;
        foreach (var (name, adapter) in adapters)
        {
            if (!adapter.IsAttached) throw new MixLoraException($"adapter \"{name}\" is not attached to the model");
            if (!_owners.TryAdd(name, adapter)) throw new MixLoraException($"the name \"{name}\" is used twice (adapters and the base model need distinct names)");
            _ownerOrder.Add(adapter);
        }
        _model.Model.eval();
        foreach (var adapter in adapters.Values) adapter.SetTraining(false);
        _thread = new Thread(Loop) { IsBackground = true, Name = "mixlora-scheduler" };
        _thread.Start();
    }

    /// <summary>Every name a request can use: the base model's names, then the adapters.</summary>
    public IReadOnlyList<string> ModelNames => [.. _owners.Keys];

    /// <summary>Whether <paramref name="name"/> is the base model.</summary>
    public bool IsBaseModel(string name) => _owners.TryGetValue(name, out var owner) && ReferenceEquals(owner, _ownerOrder[0]);

    /// <summary>Sequences being decoded or waiting (for monitoring and tests).</summary>
    public int ActiveCount => Volatile.Read(ref _active);

    /// <summary>TorchSharp tensors alive on the scheduler thread after its last step (flat over a long run; a leak check).</summary>
    public long LiveTensors => Volatile.Read(ref _liveTensors);

    /// <summary>The model's context length: prompt + max tokens must fit in it.</summary>
    public int ContextLength => _model.Config.MaxPositionEmbeddings;

    /// <summary>
    /// Queues a request and streams its completion. Cancelling <paramref name="cancellation"/> (a client that went
    /// away) ends the sequence at the next step and frees its row.
    /// </summary>
    /// <exception cref="UnknownModelException">No base model or adapter has that name.</exception>
    /// <exception cref="MixLoraException">The prompt is empty or the prompt plus max tokens exceed the context; bad sampling options.</exception>
    public IAsyncEnumerable<GenerationChunk> Generate(GenerationRequest request, CancellationToken cancellation = default)
    {
        var reader = Submit(request, cancellation);
        return Read(reader, cancellation);
    }

    /// <summary>The whole completion (see <see cref="Generate"/>).</summary>
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, CancellationToken cancellation = default)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var chunk in Generate(request, cancellation).ConfigureAwait(false))
        {
            text.Append(chunk.Text);
            if (chunk.FinishReason is { } reason) return new GenerationResult(text.ToString(), reason, chunk.PromptTokens, chunk.CompletionTokens);
        }
        throw new OperationCanceledException("the generation ended without a result", cancellation);
    }

    private ChannelReader<GenerationChunk> Submit(GenerationRequest request, CancellationToken cancellation)
    {
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        if (!_owners.TryGetValue(request.Model, out var owner)) throw new UnknownModelException(request.Model, ModelNames);
        request.Sampling.Validate();
        int prompt = request.PromptIds.Count;
        if (prompt == 0) throw new MixLoraException("the prompt must contain at least one token");
        PromptEncoding.ThrowIfOutsideVocabulary(request.PromptIds, _model.Config.VocabSize);
        if (prompt + request.Sampling.MaxNewTokens > ContextLength)
            throw new MixLoraException($"the prompt ({prompt} tokens) plus max_tokens ({request.Sampling.MaxNewTokens}) exceed the model's context of {ContextLength} tokens");
        var channel = Channel.CreateUnbounded<GenerationChunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var sequence = new ActiveSequence(request, owner, _model.Tokenizer, _model.StopIds, ContextLength, channel.Writer, cancellation);
        Interlocked.Increment(ref _active);
        _pending.Enqueue(sequence);
        _wake.Release();
        return channel.Reader;
    }

    private static async IAsyncEnumerable<GenerationChunk> Read(ChannelReader<GenerationChunk> reader, [EnumeratorCancellation] CancellationToken cancellation)
    {
        while (await reader.WaitToReadAsync(cancellation).ConfigureAwait(false))
            while (reader.TryRead(out var chunk)) yield return chunk;
    }

    private void Loop()
    {
        using var noGrad = no_grad();
        using var batch = new DecodeBatch(_model.Model.Layers.Count, _model.Model.EmbedTokens.device);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (batch.Rows.Count == 0 && _pending.IsEmpty) _wake.Wait(_stop.Token);
                Admit(batch);
                if (batch.Rows.Count > 0) Decode(batch);
                Release(batch);
                Volatile.Write(ref _liveTensors, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        finally
        {
            var shutdown = new ObjectDisposedException(nameof(GenerationScheduler), "the server is shutting down");
            foreach (var row in batch.Rows) row.Fail(shutdown);
            while (_pending.TryDequeue(out var waiting)) waiting.Fail(shutdown);
        }
    }

    /// <summary>Prefills waiting requests while there is room, samples their first token and adds them to the batch.</summary>
    private void Admit(DecodeBatch batch)
    {
        while (batch.Rows.Count < _options.MaxBatch && _pending.TryDequeue(out var sequence))
        {
            if (sequence.Cancellation.IsCancellationRequested)
            {
                sequence.Fail(new OperationCanceledException(sequence.Cancellation));
                Interlocked.Decrement(ref _active);
                continue;
            }
            var cache = new KvCache(_model.Model.Layers.Count, initialCapacity: sequence.Ids.Count);
            try
            {
                using (var scope = NewDisposeScope())
                {
                    var device = _model.Model.EmbedTokens.device;
                    int length = sequence.Ids.Count;
                    var ids = tensor(sequence.Ids.Select(i => (long)i).ToArray(), device: device).view(1, length);  // [1, P]
                    var last = tensor(new long[] { length - 1 }, device: device);
                    using var output = _model.Model.Forward(ids, cache: cache, rows: [new AdapterRows(sequence.Owner, 0, 1)], logitPositions: last);
                    Sample(sequence, output.Logits[0, 0]);                                                   // [1, 1, V] -> [V]
                }
                if (sequence.FinishReason is null) batch.Join(sequence, cache, _ownerOrder);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                sequence.Fail(e);
            }
            finally
            {
                cache.Dispose();
            }
            if (sequence.FinishReason is not null) Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>One forward step for every row, then one sampled token per row.</summary>
    private void Decode(DecodeBatch batch)
    {
        try
        {
            using var scope = NewDisposeScope();
            using var step = _model.Model.DecodeStep(batch.Rows.Count);
            var logits = batch.Step(_model.Model);                                                           // [B, V]
            // Greedy rows without penalties take their token from one argmax over the batch and one finiteness
            // check: two host transfers per step instead of a few per row (on a small model, per-op cost dominates).
            long[]? best = null;
            bool[]? unusable = null;
            if (batch.Rows.Any(r => r.Sampler.IsPlainArgmax))
            {
                var scores = logits.to(ScalarType.Float32);
                best = scores.argmax(1).cpu().data<long>().ToArray();                                         // [B, V] -> [B]
                unusable = LogitsProcessor.Unusable(scores).cpu().data<bool>().ToArray();                     // [B, V] -> [B]
            }
            for (int r = 0; r < batch.Rows.Count; r++)
            {
                var row = batch.Rows[r];
                try
                {
                    if (best is null || !row.Sampler.IsPlainArgmax) Sample(row, logits[r]);
                    else if (unusable![r]) throw LogitsProcessor.NonFiniteScores(logits[r], row.Ids.Count);
                    else row.Accept((int)best[r]);
                }
                catch (MixLoraException e)
                {
                    row.Fail(e); // this row's scores were unusable; the others go on
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            foreach (var row in batch.Rows) row.Fail(e);
        }
    }

    private static void Sample(ActiveSequence sequence, Tensor logits) =>
        sequence.Accept(sequence.Sampler.Next(logits, sequence.Ids, sequence.Generated));

    /// <summary>Drops finished and cancelled rows from the batch.</summary>
    private void Release(DecodeBatch batch)
    {
        foreach (var row in batch.Rows)
            if (row.FinishReason is null && row.Cancellation.IsCancellationRequested) row.Fail(new OperationCanceledException(row.Cancellation));
        int finished = batch.Rows.Count(r => r.FinishReason is not null);
        if (finished == 0) return;
        batch.RemoveFinished();
        Interlocked.Add(ref _active, -finished);
    }

    /// <summary>Stops the scheduler thread; sequences still running end with an error their readers see.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _wake.Dispose();
    }
}

/// <summary>A request named a model that is neither the base model nor a served adapter.</summary>
public sealed class UnknownModelException(string name, IReadOnlyList<string> known)
    : MixLoraException($"the model \"{name}\" does not exist; served models: {string.Join(", ", known)}")
{
    public string Name { get; } = name;
}
