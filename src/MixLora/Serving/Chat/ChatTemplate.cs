using System.Text.Json;
using MixLora.IO;
using MixLora.Tokenization;

namespace MixLora.Serving;

/// <summary>
/// A model's chat template (the Jinja template in tokenizer_config.json's <c>chat_template</c>, or a
/// <c>chat_template.jinja</c> file), rendered as Hugging Face transformers' <c>apply_chat_template</c> renders it:
/// variables <c>messages</c> (a list of <c>{role, content}</c>), <c>add_generation_prompt</c>, <c>tools</c> and
/// <c>documents</c> (none), and those of <c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>, <c>pad_token</c> that the
/// tokenizer config sets (unset ones are undefined, as in transformers).
/// </summary>
/// <remarks>
/// The template language is the Jinja2 subset that the Llama-3, Qwen2/Qwen3, Mistral and Gemma templates use,
/// implemented in this project (see README "Serving"). A syntax error is reported when the template is loaded; a
/// template's <c>raise_exception(message)</c> becomes a <see cref="ChatTemplateException"/> of kind
/// <see cref="ChatTemplateErrorKind.Raised"/> whose <see cref="ChatTemplateException.Problem"/> is the message.
/// The parsed template is immutable: one instance can render for several threads at once.
/// </remarks>
public sealed class ChatTemplate
{
    /// <summary>The template file recent transformers versions save beside tokenizer_config.json; it takes precedence.</summary>
    public const string JinjaFileName = "chat_template.jinja";

    /// <summary>The entry of a list-valued <c>chat_template</c> that is used when no name is given.</summary>
    public const string DefaultName = "default";

    private readonly JinjaTemplate _template;

    /// <summary>Parses a template. <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="ChatTemplateException">The text is not a valid template (kind <see cref="ChatTemplateErrorKind.Syntax"/>).</exception>
    public ChatTemplate(string text, string source = "chat template")
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        Text = text;
        Source = source;
        _template = new JinjaTemplate(text, source);
    }

    /// <summary>The template's Jinja text.</summary>
    public string Text { get; }

    /// <summary>Where the template came from, e.g. <c>model/tokenizer_config.json (chat_template)</c>.</summary>
    public string Source { get; }

    public string? BosToken { get; init; }

    public string? EosToken { get; init; }

    public string? UnkToken { get; init; }

    public string? PadToken { get; init; }

    /// <summary>What <c>strftime_now</c> formats (default: the local time now, as transformers).</summary>
    public Func<DateTime> Clock { get; set; } = () => DateTime.Now;

    /// <summary>
    /// The chat template of a tokenizer_config.json, or null when it has none. <c>chat_template</c> may be a string
    /// or a list of <c>{"name", "template"}</c> objects; from a list the one named <paramref name="name"/> is used
    /// (default <see cref="DefaultName"/>). Special tokens are strings or objects with "content".
    /// </summary>
    /// <exception cref="MixLoraException">The file is missing or malformed, or the named template does not exist.</exception>
    /// <exception cref="ChatTemplateException">The template has a syntax error.</exception>
    public static ChatTemplate? FromTokenizerConfig(string path, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var document = JsonFileReader.Parse(path);
        var root = document.RootElement;
        var value = JsonFileReader.Optional(root, "chat_template");
        if (value is null) return null;
        var (text, source) = SelectTemplate(value.Value, path, name);
        return WithTokens(text, source, root, path);
    }

    /// <summary>
    /// The chat template of a model (or tokenizer) folder: <see cref="JinjaFileName"/> when present, else
    /// tokenizer_config.json's <c>chat_template</c>; null when there is neither.
    /// </summary>
    public static ChatTemplate? FromFolder(string folder, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new MixLoraException($"{folder}: folder not found");
        string configPath = Path.Combine(folder, TokenizerLoader.TokenizerConfigName);
        string jinjaPath = Path.Combine(folder, JinjaFileName);
        if (!File.Exists(jinjaPath)) return File.Exists(configPath) ? FromTokenizerConfig(configPath, name) : null;
        if (name is not null && name != DefaultName)
            throw new MixLoraException($"{jinjaPath}: the folder has one chat template; there is no template named \"{name}\"");
        var text = Utf8TextFile.Read(jinjaPath);
        if (!File.Exists(configPath)) return new ChatTemplate(text, jinjaPath);
        using var document = JsonFileReader.Parse(configPath);
        return WithTokens(text, jinjaPath, document.RootElement, configPath);
    }

    private static (string Text, string Source) SelectTemplate(JsonElement value, string path, string? name)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            if (name is not null && name != DefaultName)
                throw new InvalidFileException(path, $"'chat_template' is a single template; there is no template named \"{name}\"");
            return (value.GetString()!, $"{path} (chat_template)");
        }
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidFileException(path, $"'chat_template' must be a string or a list of {{\"name\", \"template\"}} objects, got {Config.JsonSource.Kind(value.ValueKind)}");
        var templates = new List<(string Name, string Text)>();
        int index = 0;
        foreach (var entry in value.EnumerateArray())
        {
            string where = $"chat_template[{index++}]";
            if (entry.ValueKind != JsonValueKind.Object) throw new InvalidFileException(path, $"'{where}' must be an object with \"name\" and \"template\"");
            templates.Add((JsonFileReader.RequiredString(entry, "name", path, where), JsonFileReader.RequiredString(entry, "template", path, where)));
        }
        string wanted = name ?? DefaultName;
        foreach (var (entryName, text) in templates)
        {
            if (entryName == wanted) return (text, $"{path} (chat_template \"{entryName}\")");
        }
        string available = string.Join(", ", templates.Select(t => t.Name));
        throw new InvalidFileException(path, name is null
            ? $"'chat_template' lists templates ({available}) but none named \"{DefaultName}\"; choose one by name"
            : $"'chat_template' has no template named \"{name}\" (templates: {available})");
    }

    private static ChatTemplate WithTokens(string text, string source, JsonElement config, string configPath)
    {
        // Read the tokens first: a malformed config is reported before the template is parsed.
        var (bos, eos, unk, pad) = (
            TokenizerSettings.TokenText(config, "bos_token", configPath),
            TokenizerSettings.TokenText(config, "eos_token", configPath),
            TokenizerSettings.TokenText(config, "unk_token", configPath),
            TokenizerSettings.TokenText(config, "pad_token", configPath));
        return new ChatTemplate(text, source) { BosToken = bos, EosToken = eos, UnkToken = unk, PadToken = pad };
    }

    /// <summary>The prompt for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> the template appends the assistant's header.</summary>
    /// <exception cref="ChatTemplateException">The template failed or refused the conversation.</exception>
    public string Render(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt) => Render(messages, addGenerationPrompt, null);

    /// <summary>
    /// As <see cref="Render(IReadOnlyList{ChatTurn}, bool)"/> with extra template variables (for example
    /// <c>enable_thinking</c>, <c>tools</c>, <c>date_string</c>); they override the special tokens, not
    /// <c>messages</c> or <c>add_generation_prompt</c>. Values: strings, numbers, booleans, null, lists, string-keyed
    /// dictionaries and <see cref="JsonElement"/>s.
    /// </summary>
    public string Render(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables)
    {
        ChatTurn.Validate(messages);
        var all = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["tools"] = null,
            ["documents"] = null,
        };
        if (BosToken is not null) all["bos_token"] = BosToken;
        if (EosToken is not null) all["eos_token"] = EosToken;
        if (UnkToken is not null) all["unk_token"] = UnkToken;
        if (PadToken is not null) all["pad_token"] = PadToken;
        foreach (var (key, value) in variables ?? new Dictionary<string, object?>())
        {
            if (key is "messages" or "add_generation_prompt")
                throw new ArgumentException($"'{key}' is set by Render itself, not through the extra variables", nameof(variables));
            all[key] = value;
        }
        all["messages"] = messages;
        all["add_generation_prompt"] = addGenerationPrompt;
        return _template.Render(all, Clock);
    }
}
