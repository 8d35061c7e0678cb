using Microsoft.AspNetCore.Http;

namespace MixLora.Serving.Http;

/// <summary>
/// Turns exceptions into OpenAI error responses: an <see cref="ApiException"/> with its status and fields, anything
/// else a 500 "server_error" whose message names the exception (never a stack trace).
/// </summary>
internal static class ErrorResponses
{
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
        }
        catch (ApiException e)
        {
            await Write(context, e);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel refused the request itself (a body over the size limit, a truncated body, …).
            await Write(context, new ApiException(e.StatusCode, e.Message, "invalid_request_error"));
        }
        catch (Exception e)
        {
            await Write(context, new ApiException(500, $"internal server error: {e.Message}", "server_error"));
        }
    }

    private static async Task Write(HttpContext context, ApiException error)
    {
        if (context.Response.HasStarted) return;       // a stream reports its errors as events of its own
        context.Response.Clear();
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        if (error.Status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer";
        await context.Response.Body.WriteAsync(OpenAiJson.Error(error.Message, error.Type, error.Param, error.Code), context.RequestAborted);
    }
}
