using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using MixLora.Generation;
using MixLora.Tokenization;

namespace MixLora.Serving.Http;

/// <summary>
/// <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>: parse, encode the prompt, fit max_tokens to the
/// context, and answer from the scheduler, whole or as a server-sent event stream. The request's abort token (a client
/// that went away) and the server's shutdown token cancel the sequence, which frees its row.
/// </summary>
internal sealed class CompletionEndpoints(GenerationScheduler scheduler, ITextTokenizer tokenizer, MixLoraServerOptions options, CancellationToken shutdown)
{
    // Without an encoder from the caller: the Alpaca instruction template (no chat template is assumed).
    private readonly ChatPromptEncoder _encodeChat = options.EncodeChat ?? ChatPrompts.Encoder(new ChatFormatter(null, Data.PromptTemplate.Alpaca), tokenizer);
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private long _disconnected;

    /// <summary>Requests whose client went away before the answer was complete.</summary>
    public long Disconnected => Interlocked.Read(ref _disconnected);

    public async Task Chat(HttpContext context)
    {
        CompletionCall call;
        using (var body = await ReadBody(context)) call = RequestParser.ParseChat(body.RootElement);
        RequireModel(call.Model);
        IReadOnlyList<int> ids;
        try
        {
            ids = _encodeChat(call.Messages, call.Model);
        }
        catch (MixLoraException e)
        {
            throw ApiException.BadRequest(e.Message, "messages");
        }
        await Complete(context, call, ids, "messages", ChatShape.Instance);
    }

    public async Task Completion(HttpContext context)
    {
        CompletionCall call;
        using (var body = await ReadBody(context)) call = RequestParser.ParseCompletion(body.RootElement);
        RequireModel(call.Model);
        var ids = call.PromptIds ?? Encode(call.PromptText!, "prompt");
        if (ids.FirstOrDefault(id => id >= tokenizer.VocabSize, -1) is var bad and not -1)
            throw ApiException.BadRequest($"prompt token id {bad} is outside the vocabulary [0, {tokenizer.VocabSize})", "prompt");
        await Complete(context, call, ids, "prompt", TextShape.Instance);
    }

    private static async Task<JsonDocument> ReadBody(HttpContext context)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException e)
        {
            var detail = e.Message.Split(" Path:")[0].Split(" LineNumber:")[0];
            throw ApiException.BadRequest($"the request body is not valid JSON: {detail}");
        }
    }

    private void RequireModel(string model)
    {
        var served = scheduler.ModelNames;
        if (!served.Contains(model)) throw ApiException.UnknownModel(model, served);
    }

    private IReadOnlyList<int> Encode(string prompt, string field)
    {
        try
        {
            return PromptEncoding.Encode(tokenizer, prompt);
        }
        catch (MixLoraException e)
        {
            throw ApiException.BadRequest(e.Message, field);
        }
    }

    /// <summary>
    /// max_tokens as given (the prompt plus it must fit in the context), or the server's default lowered to what the
    /// context has left.
    /// </summary>
    private int MaxTokens(CompletionCall call, int promptTokens, string promptField)
    {
        int context = scheduler.ContextLength;
        if (promptTokens >= context)
            throw ApiException.BadRequest($"the prompt is {promptTokens} tokens, which leaves no room in the model's context of {context} tokens", promptField, "context_length_exceeded");
        if (call.MaxTokens is not int requested) return Math.Min(options.MaxTokensDefault, context - promptTokens);
        if (promptTokens + requested > context)
            throw ApiException.BadRequest(
                $"the prompt ({promptTokens} tokens) plus {call.MaxTokensField} ({requested}) exceed the model's context of {context} tokens; " +
                $"ask for at most {context - promptTokens} tokens or shorten the prompt", call.MaxTokensField, "context_length_exceeded");
        return requested;
    }

    private async Task Complete(HttpContext context, CompletionCall call, IReadOnlyList<int> promptIds, string promptField, CompletionShape shape)
    {
        var request = new GenerationRequest
        {
            PromptIds = promptIds,
            Model = call.Model,
            Sampling = call.Sampling with { MaxNewTokens = MaxTokens(call, promptIds.Count, promptField) },
            Stop = call.Stop,
        };
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, shutdown);
        IAsyncEnumerable<GenerationChunk> chunks;
        try
        {
            chunks = scheduler.Generate(request, cancel.Token);
        }
        catch (UnknownModelException)
        {
            throw ApiException.UnknownModel(call.Model, scheduler.ModelNames);
        }
        catch (ObjectDisposedException)
        {
            throw ApiException.ShuttingDown();
        }
        catch (MixLoraException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        var identity = new StreamIdentity(shape.IdPrefix + Guid.NewGuid().ToString("N")[..24], DateTimeOffset.UtcNow.ToUnixTimeSeconds(), call.Model, call.IncludeUsage);
        try
        {
            if (call.Stream) await Stream(context, chunks, identity, shape);
            else await Whole(context, chunks, identity, shape);
        }
        finally
        {
            // However the response ended (a failed write included), a sequence still running loses its row now.
            cancel.Cancel();
        }
    }

    private async Task Whole(HttpContext context, IAsyncEnumerable<GenerationChunk> chunks, StreamIdentity identity, CompletionShape shape)
    {
        var text = new StringBuilder();
        try
        {
            await foreach (var chunk in chunks)
            {
                text.Append(chunk.Text);
                if (chunk.FinishReason is not { } reason) continue;
                var body = shape.Whole(identity, text.ToString(), reason, new TokenUsage(chunk.PromptTokens, chunk.CompletionTokens));
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(body, context.RequestAborted);
                return;
            }
        }
        catch (Exception e) when (Ended(context, e))
        {
            if (!context.RequestAborted.IsCancellationRequested) throw ApiException.ShuttingDown();
            Interlocked.Increment(ref _disconnected);                       // the client went away: nobody to answer
            return;
        }
        catch (MixLoraException e)
        {
            throw new ApiException(500, $"generation failed: {e.Message}", "server_error");
        }
        throw ApiException.ShuttingDown();
    }

    private async Task Stream(HttpContext context, IAsyncEnumerable<GenerationChunk> chunks, StreamIdentity identity, CompletionShape shape)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(context.RequestAborted);
        try
        {
            if (shape.FirstChunk(identity) is { } first) await Send(context, first);
            await foreach (var chunk in chunks)
            {
                if (chunk.Text.Length > 0) await Send(context, shape.Chunk(identity, chunk.Text, null));
                if (chunk.FinishReason is not { } reason) continue;
                await Send(context, shape.Chunk(identity, null, reason));
                if (identity.IncludeUsage) await Send(context, shape.UsageChunk(identity, new TokenUsage(chunk.PromptTokens, chunk.CompletionTokens)));
                await response.Body.WriteAsync(Done, context.RequestAborted);
                return;
            }
            await SendError(context, ApiException.ShuttingDown());
        }
        catch (Exception e) when (Ended(context, e))
        {
            if (context.RequestAborted.IsCancellationRequested) Interlocked.Increment(ref _disconnected);
            else await SendError(context, ApiException.ShuttingDown());
        }
        catch (Exception e)
        {
            // The status line went out with the first event: the error travels as an event of its own.
            await SendError(context, new ApiException(500, $"generation failed: {e.Message}", "server_error"));
        }
    }

    /// <summary>Whether <paramref name="e"/> means the request was cut short: the client left or the server is stopping.</summary>
    private bool Ended(HttpContext context, Exception e) =>
        (e is OperationCanceledException && (context.RequestAborted.IsCancellationRequested || shutdown.IsCancellationRequested))
        || e is ObjectDisposedException;

    private static async Task Send(HttpContext context, byte[] json)
    {
        var body = context.Response.Body;
        await body.WriteAsync(DataPrefix, context.RequestAborted);
        await body.WriteAsync(json, context.RequestAborted);
        await body.WriteAsync(EventEnd, context.RequestAborted);
        await body.FlushAsync(context.RequestAborted);
    }

    /// <summary>An error after the stream began: an event with the error object, then <c>[DONE]</c> so that clients stop reading.</summary>
    private static async Task SendError(HttpContext context, ApiException error)
    {
        try
        {
            await Send(context, OpenAiJson.Error(error.Message, error.Type, error.Param, error.Code));
            await context.Response.Body.WriteAsync(Done, context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The connection is gone as well: nobody to tell.
        }
    }
}
