namespace MixLora.Serving.Http;

/// <summary>One message of a chat conversation, as a request's <c>messages</c> list gives it.</summary>
/// <param name="Role">"system", "developer", "user", "assistant" or "tool".</param>
/// <param name="Content">The message text (a list of text parts is joined into one string).</param>
public sealed record ChatTurn(string Role, string Content);
