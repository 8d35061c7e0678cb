using Microsoft.AspNetCore.Http;

namespace MixLora.Serving.Http;

/// <summary><c>GET /</c>: the chat page embedded in the assembly (Serving/Http/wwwroot/index.html).</summary>
internal static class IndexPage
{
    public const string ResourceName = "MixLora.Serving.Http.wwwroot.index.html";

    private static readonly Lazy<byte[]> Content = new(() =>
    {
        using var stream = typeof(IndexPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the embedded resource {ResourceName} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static Task Serve(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.Body.WriteAsync(Content.Value, context.RequestAborted).AsTask();
    }
}
