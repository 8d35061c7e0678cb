using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace MixLora.Benchmarks.Serve;

/// <summary>What one streamed completion measured from the client side.</summary>
public sealed record RequestTiming(string Model, double TimeToFirstTokenMs, double TotalMs, int CompletionTokens);

/// <summary>
/// Clients that call a running server over loopback HTTP: each sends its requests one after another as streamed
/// /v1/completions (greedy) and records time to first token, total time and the completion tokens the server counted.
/// </summary>
public static class ServeLoad
{
    public static async Task<(IReadOnlyList<RequestTiming> Timings, double WallSeconds)> Run(HttpClient http, Uri baseAddress,
        int clients, int requestsPerClient, IReadOnlyList<string> models, IReadOnlyList<string> prompts, int newTokens)
    {
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(async client =>
        {
            var timings = new List<RequestTiming>();
            for (int i = 0; i < requestsPerClient; i++)
            {
                int n = client * requestsPerClient + i;
                timings.Add(await Complete(http, baseAddress, models[n % models.Count], prompts[n % prompts.Count], newTokens));
            }
            return timings;
        }).ToList();
        var all = (await Task.WhenAll(tasks)).SelectMany(t => t).ToList();
        return (all, clock.Elapsed.TotalSeconds);
    }

    private static async Task<RequestTiming> Complete(HttpClient http, Uri baseAddress, string model, string prompt, int newTokens)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model, ["prompt"] = prompt, ["max_tokens"] = newTokens, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
        });
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "v1/completions"))
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double firstToken = double.NaN;
        int tokens = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]") break;
            using var chunk = JsonDocument.Parse(data);
            var root = chunk.RootElement;
            if (double.IsNaN(firstToken) && root.TryGetProperty("choices", out var choices)
                && choices.EnumerateArray().Any(c => c.TryGetProperty("text", out var t) && t.GetString() is { Length: > 0 }))
                firstToken = clock.Elapsed.TotalMilliseconds;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                tokens = usage.GetProperty("completion_tokens").GetInt32();
        }
        return new RequestTiming(model, firstToken, clock.Elapsed.TotalMilliseconds, tokens);
    }
}
