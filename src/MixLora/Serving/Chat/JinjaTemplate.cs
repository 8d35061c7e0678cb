namespace MixLora.Serving;

/// <summary>
/// A parsed template of the Jinja2 subset chat templates use, rendered as transformers renders chat templates
/// (Jinja2's ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, loop controls, <c>tojson</c>,
/// <c>raise_exception</c> and <c>strftime_now</c>). Written from the Jinja2 documentation and behaviour; no code
/// was taken from Jinja2 or other implementations.
/// </summary>
internal sealed class JinjaTemplate
{
    private readonly JinjaSource _source;
    private readonly IReadOnlyList<JinjaNode> _body;

    /// <summary>Parses <paramref name="text"/>; a syntax error is a <see cref="ChatTemplateException"/> naming <paramref name="sourceName"/>.</summary>
    public JinjaTemplate(string text, string sourceName)
    {
        _source = new JinjaSource(text, sourceName);
        try
        {
            _body = JinjaParser.Parse(_source);
        }
        catch (JinjaError e)
        {
            throw ToException(e);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new ChatTemplateException(ChatTemplateErrorKind.Syntax, sourceName, "the template nests too deeply", 0, 0);
        }
    }

    public string SourceName => _source.Name;

    /// <summary>
    /// Renders with the given variables (.NET values are converted: strings, numbers, booleans, null, lists,
    /// dictionaries, <see cref="ChatTurn"/>, JSON elements). <paramref name="clock"/> is what <c>strftime_now</c> formats.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? clock = null)
    {
        var converted = variables.ToDictionary(kv => kv.Key, kv => JinjaValue.FromClr(kv.Value), StringComparer.Ordinal);
        try
        {
            return new JinjaRenderer(clock ?? (() => DateTime.Now)).Render(_body, converted);
        }
        catch (JinjaError e)
        {
            throw ToException(e);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new ChatTemplateException(ChatTemplateErrorKind.Render, _source.Name, "the template nests too deeply", 0, 0);
        }
    }

    private ChatTemplateException ToException(JinjaError e)
    {
        var (line, column) = e.Position >= 0 ? _source.Locate(e.Position) : (0, 0);
        return new ChatTemplateException(e.Kind, _source.Name, e.Message, line, column);
    }
}
