using System.Text;
using System.Text.Json;
using MixLora.IO;

namespace MixLora.Data;

/// <summary>
/// An instruction prompt template (spec §7.1): the same JSON keys as the reference's <c>prompts/*.json</c> files.
/// <see cref="PromptInput"/> uses <c>{instruction}</c> and <c>{input}</c>; <see cref="PromptNoInput"/> uses
/// <c>{instruction}</c>. Substitution follows Python's <c>str.format</c>: <c>{{</c> and <c>}}</c> are literal braces,
/// and braces inside the substituted user text are never re-interpreted.
/// </summary>
public sealed record PromptTemplate(string Description, string PromptInput, string PromptNoInput, string ResponseSplit)
{
    public const string AlpacaName = "alpaca";
    public const string MoePeftName = "moe_peft";

    /// <summary>Names accepted by <see cref="Resolve"/> besides file paths.</summary>
    public static readonly IReadOnlyList<string> BuiltInNames = [AlpacaName, MoePeftName];

    /// <summary>The Alpaca-LoRA template (reference <c>prompts/alpaca.json</c>).</summary>
    public static PromptTemplate Alpaca { get; } = new(
        "Template used by Alpaca-LoRA.",
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n",
        "### Response:");

    /// <summary>The reference's built-in default template.</summary>
    public static PromptTemplate MoePeft { get; } = new(
        "Default Prompt Template Provided by MoE-PEFT",
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Output:\n",
        "### Instruction:\n{instruction}\n\n### Output:\n",
        "### Output:");

    /// <summary>
    /// The template for a config's <c>prompt</c> value: null ⇒ <see cref="MoePeft"/>; an existing file (relative
    /// paths against <paramref name="baseDir"/>) ⇒ that JSON; else a built-in name; anything else is an error.
    /// </summary>
    public static PromptTemplate Resolve(string? nameOrPath, string? baseDir = null)
    {
        if (nameOrPath is null) return MoePeft;
        var path = baseDir is null ? nameOrPath : Path.Combine(baseDir, nameOrPath);
        if (File.Exists(path)) return Load(path);
        return nameOrPath switch
        {
            AlpacaName => Alpaca,
            MoePeftName => MoePeft,
            _ => throw new MixLoraException(
                $"prompt \"{nameOrPath}\" is neither a built-in template ({string.Join(", ", BuiltInNames)}) nor an existing template file ({Path.GetFullPath(path)})"),
        };
    }

    /// <summary>Reads a template JSON file (description, prompt_input, prompt_no_input, response_split).</summary>
    public static PromptTemplate Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidFileException(path, "prompt template file not found");
        if (info.Length > 1024 * 1024) throw new InvalidFileException(path, $"{info.Length} bytes is too large for a prompt template");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(Utf8TextFile.Read(path));
        }
        catch (JsonException e)
        {
            throw new InvalidFileException(path, $"not valid JSON (line {e.LineNumber + 1}): {e.Message.Split(" LineNumber:")[0]}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidFileException(path, "expected a JSON object with prompt_input, prompt_no_input and response_split");
            string Get(string key, bool required)
            {
                if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
                    return required ? throw new InvalidFileException(path, $"missing key \"{key}\" (a string)") : "";
                if (value.ValueKind != JsonValueKind.String) throw new InvalidFileException(path, $"key \"{key}\" must be a string, got {Config.JsonSource.Kind(value.ValueKind)}");
                return value.GetString()!;
            }
            var template = new PromptTemplate(Get("description", false), Get("prompt_input", true), Get("prompt_no_input", true), Get("response_split", true));
            CheckPlaceholders(path, "prompt_input", template.PromptInput);
            CheckPlaceholders(path, "prompt_no_input", template.PromptNoInput);
            return template;
        }
    }

    /// <summary>
    /// The prompt (<c>prompt_input</c> when <paramref name="input"/> is non-empty, else <c>prompt_no_input</c>) and
    /// the full text: the prompt followed, when <paramref name="output"/> is non-empty, by the output and one "\n".
    /// </summary>
    public TrainingText Render(string instruction, string? input, string? output = null)
    {
        var prompt = string.IsNullOrEmpty(input)
            ? Format(PromptNoInput, instruction, "")
            : Format(PromptInput, instruction, input);
        var full = string.IsNullOrEmpty(output) ? prompt : prompt + output + "\n";
        return new TrainingText(prompt, full);
    }

    /// <summary>The generated answer: the text after the last <see cref="ResponseSplit"/>, trimmed.</summary>
    public string ExtractResponse(string generated)
    {
        int at = generated.LastIndexOf(ResponseSplit, StringComparison.Ordinal);
        return (at < 0 ? generated : generated[(at + ResponseSplit.Length)..]).Trim();
    }

    private static void CheckPlaceholders(string path, string key, string template)
    {
        try
        {
            Format(template, "", "");
        }
        catch (FormatException e)
        {
            throw new InvalidFileException(path, $"key \"{key}\": {e.Message}");
        }
    }

    /// <summary>Python <c>str.format(instruction=…, input=…)</c> for the two known fields.</summary>
    private static string Format(string template, string instruction, string input)
    {
        var text = new StringBuilder(template.Length + instruction.Length + input.Length);
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{') { text.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < template.Length && template[i + 1] == '}') { text.Append('}'); i++; continue; }
            if (c == '}') throw new FormatException($"single '}}' at character {i} (write '}}}}' for a literal brace)");
            if (c != '{') { text.Append(c); continue; }
            int end = template.IndexOf('}', i + 1);
            if (end < 0) throw new FormatException($"unclosed '{{' at character {i} (write '{{{{' for a literal brace)");
            var field = template[(i + 1)..end];
            text.Append(field switch
            {
                "instruction" => instruction,
                "input" => input,
                _ => throw new FormatException($"unknown placeholder {{{field}}} (templates may use {{instruction}} and {{input}})"),
            });
            i = end;
        }
        return text.ToString();
    }
}
