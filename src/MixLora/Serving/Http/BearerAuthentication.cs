using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace MixLora.Serving.Http;

/// <summary>The API key check of the <c>/v1</c> routes: <c>Authorization: Bearer KEY</c>, compared in constant time.</summary>
internal static class BearerAuthentication
{
    /// <exception cref="ApiException">401 when the header is missing or holds another key.</exception>
    public static void Require(HttpContext context, string key)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new ApiException(401, "missing API key: send the header \"Authorization: Bearer YOUR_KEY\"", "invalid_request_error", code: "invalid_api_key");
        var given = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
            throw new ApiException(401, "incorrect API key provided", "invalid_request_error", code: "invalid_api_key");
    }
}
