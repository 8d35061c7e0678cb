namespace MixLora.Serving;

/// <summary>What kind of chat template problem a <see cref="ChatTemplateException"/> reports.</summary>
public enum ChatTemplateErrorKind
{
    /// <summary>The template text is not valid in the supported Jinja subset (found when it is loaded).</summary>
    Syntax,

    /// <summary>Rendering failed: an undefined value was used, a type did not support an operation, and the like.</summary>
    Render,

    /// <summary>
    /// The template called <c>raise_exception(message)</c>, usually because it does not accept the conversation
    /// (for example roles that do not alternate). <see cref="ChatTemplateException.Problem"/> is the template's message.
    /// </summary>
    Raised,
}

/// <summary>A chat template that could not be parsed or rendered, naming the template's source and the position.</summary>
public sealed class ChatTemplateException : MixLoraException
{
    public ChatTemplateException(ChatTemplateErrorKind kind, string templateSource, string problem, int line, int column)
        : base(Format(kind, templateSource, problem, line, column))
    {
        Kind = kind;
        TemplateSource = templateSource;
        Problem = problem;
        Line = line;
        Column = column;
    }

    public ChatTemplateErrorKind Kind { get; }

    /// <summary>Where the template came from, e.g. <c>model/tokenizer_config.json (chat_template)</c>.</summary>
    public string TemplateSource { get; }

    /// <summary>What went wrong, without the source and position; for <see cref="ChatTemplateErrorKind.Raised"/> the template's own message.</summary>
    public string Problem { get; }

    /// <summary>1-based line in the template text (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>1-based column in the template text (0 when unknown).</summary>
    public int Column { get; }

    private static string Format(ChatTemplateErrorKind kind, string source, string problem, int line, int column)
    {
        string where = line > 0 ? $" at line {line}, column {column}" : "";
        return kind switch
        {
            ChatTemplateErrorKind.Syntax => $"{source}: chat template syntax error{where}: {problem}",
            ChatTemplateErrorKind.Raised => $"{source}: the chat template refused the conversation{where}: {problem}",
            _ => $"{source}: chat template failed{where}: {problem}",
        };
    }
}

/// <summary>
/// An error inside the template engine. <see cref="Position"/> is filled in by the innermost expression or
/// statement being evaluated; the engine turns it into a <see cref="ChatTemplateException"/>.
/// </summary>
internal sealed class JinjaError(ChatTemplateErrorKind kind, string message, int position = -1) : Exception(message)
{
    public ChatTemplateErrorKind Kind { get; } = kind;

    public int Position { get; set; } = position;

    public static JinjaError Syntax(string message, int position) => new(ChatTemplateErrorKind.Syntax, message, position);

    public static JinjaError Render(string message) => new(ChatTemplateErrorKind.Render, message);
}
