using System.Threading.Channels;
using MixLora.Generation;
using MixLora.Tokenization;

namespace MixLora.Serving;

/// <summary>
/// One request while the scheduler works on it: its sampler, the ids so far, the text released to the caller and the
/// channel the caller reads. Only the scheduler thread touches it.
/// </summary>
internal sealed class ActiveSequence
{
    private readonly TextStreamer _streamer;
    private readonly StopStrings _stops;
    private readonly IReadOnlyCollection<int> _stopIds;
    private readonly int _contextLength;

    public ActiveSequence(GenerationRequest request, object owner, ITextTokenizer tokenizer, IReadOnlyCollection<int> stopIds,
        int contextLength, ChannelWriter<GenerationChunk> output, CancellationToken cancellation)
    {
        Request = request;
        Owner = owner;
        Output = output;
        Cancellation = cancellation;
        Sampler = new LogitsProcessor(request.Sampling);
        Ids = [.. request.PromptIds];
        _streamer = new TextStreamer(tokenizer, request.PromptIds);
        _stops = new StopStrings(request.Stop);
        _stopIds = stopIds;
        _contextLength = contextLength;
    }

    public GenerationRequest Request { get; }

    /// <summary>The adapter whose LoRAs and experts apply to this row (an object no adapter knows for the base model).</summary>
    public object Owner { get; }

    public ChannelWriter<GenerationChunk> Output { get; }
    public CancellationToken Cancellation { get; }
    public LogitsProcessor Sampler { get; }

    /// <summary>Prompt and generated ids; the last one has been sampled but not yet fed to the model.</summary>
    public List<int> Ids { get; }

    public List<int> Generated { get; } = [];

    /// <summary>Rotary position of the next token fed to the model (its index in the sequence).</summary>
    public int NextPosition => Ids.Count - 1;

    /// <summary>Set when the sequence ended: "stop" or "length".</summary>
    public string? FinishReason { get; private set; }

    /// <summary>Records a sampled token, streams the text it completes, and decides whether the sequence ends.</summary>
    public void Accept(int id)
    {
        if (_stopIds.Contains(id))
        {
            Finish("stop");
            return;
        }
        Ids.Add(id);
        Generated.Add(id);
        var text = _stops.Add(_streamer.Push(id));
        if (text.Length > 0) Output.TryWrite(new GenerationChunk(text, null, Request.PromptIds.Count, Generated.Count));
        if (_stops.Stopped) Finish("stop");
        else if (Generated.Count >= Request.Sampling.MaxNewTokens || Ids.Count >= _contextLength) Finish("length");
    }

    /// <summary>Ends the sequence: the held-back text and the final chunk go out, and the channel completes.</summary>
    public void Finish(string reason)
    {
        if (FinishReason is not null) return;
        FinishReason = reason;
        Output.TryWrite(new GenerationChunk(_stops.Flush(), reason, Request.PromptIds.Count, Generated.Count));
        Output.TryComplete();
    }

    /// <summary>Ends the sequence with an error the caller's read throws.</summary>
    public void Fail(Exception error)
    {
        if (FinishReason is not null) return;
        FinishReason = "error";
        Output.TryComplete(error);
    }
}
