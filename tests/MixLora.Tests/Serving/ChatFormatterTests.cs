using MixLora.Data;
using MixLora.Serving;
using MixLora.Tests.Support;

namespace MixLora.Tests.Serving;

/// <summary>Loading chat templates from tokenizer configs and folders, and the instruction-template fallback.</summary>
public class ChatFormatterTests
{
    private static readonly ChatTurn[] Conversation =
    [
        ChatTurn.System("Be brief."),
        ChatTurn.User("Hi"),
        ChatTurn.Assistant("Hello!"),
        ChatTurn.User("2+2?"),
    ];

    [Fact]
    public void FallbackPutsTheLastUserMessageInTheInstructionAndTheRestInTheInput()
    {
        var (instruction, input) = InstructionChat.Split(Conversation);
        Assert.Equal("2+2?", instruction);
        Assert.Equal("Be brief.\n\nUser: Hi\nAssistant: Hello!", input);
        Assert.Equal("### Instruction:\n2+2?\n\n### Input:\nBe brief.\n\nUser: Hi\nAssistant: Hello!\n\n### Output:\n",
            InstructionChat.Render(PromptTemplate.MoePeft, Conversation));
        Assert.Equal(PromptTemplate.Alpaca.Render("2+2?", "Be brief.\n\nUser: Hi\nAssistant: Hello!").Prompt,
            InstructionChat.Render(PromptTemplate.Alpaca, Conversation));
    }

    [Fact]
    public void FallbackWithoutContextUsesPromptNoInput()
    {
        Assert.Equal("### Instruction:\nTell me a joke.\n\n### Output:\n", InstructionChat.Render(PromptTemplate.MoePeft, [ChatTurn.User("Tell me a joke.")]));
        // Only a system message: it is the input. Only earlier turns: they are the input. Other roles keep their name.
        Assert.Equal(("Q", "S1\n\nS2"), InstructionChat.Split([ChatTurn.System("S1"), ChatTurn.System("S2"), ChatTurn.User("Q")]));
        Assert.Equal(("Q", "User: A\nTool: 42"), InstructionChat.Split([ChatTurn.User("A"), new ChatTurn("tool", "42"), ChatTurn.User("Q")]));
        // Contents are used verbatim.
        Assert.Equal((" q \n", ""), InstructionChat.Split([ChatTurn.User(" q \n")]));
    }

    [Fact]
    public void FallbackNeedsAFinalUserMessage()
    {
        var error = Assert.Throws<MixLoraException>(() => InstructionChat.Split([ChatTurn.User("Q"), ChatTurn.Assistant("A")]));
        Assert.Contains("must end with a user message", error.Message);
        Assert.Contains("\"assistant\"", error.Message);
        Assert.Contains("no messages", Assert.Throws<MixLoraException>(() => InstructionChat.Split([])).Message);
        Assert.Throws<ArgumentException>(() => InstructionChat.Split([null!]));
    }

    [Fact]
    public void TemplateFilesWorkAsFallback()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.json"), """{"prompt_input": "<{instruction}|{input}>", "prompt_no_input": "<{instruction}>", "response_split": ">"}""");
        var template = PromptTemplate.Resolve("t.json", dir.Path);
        Assert.Equal("<2+2?|Be brief.\n\nUser: Hi\nAssistant: Hello!>", new ChatFormatter(null, template).Format(Conversation));
    }

    [Fact]
    public void FormatterUsesTheModelsChatTemplateWhenThereIsOne()
    {
        var withTemplate = ChatFormatter.FromTokenizerConfig(RepoPaths.Asset("tokenizers", "qwen3", "tokenizer_config.json"), PromptTemplate.Alpaca);
        Assert.True(withTemplate.UsesChatTemplate);
        Assert.False(withTemplate.AddSpecialTokensWhenEncoding);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", withTemplate.Format([ChatTurn.User("Hi")]));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n", withTemplate.Format([ChatTurn.User("Hi")], addGenerationPrompt: false));

        // stories260K-hf has a tokenizer_config.json without a chat_template: the adapter's prompt template is used.
        var fallback = ChatFormatter.ForModel(RepoPaths.Asset("stories260K-hf"), PromptTemplate.MoePeft);
        Assert.False(fallback.UsesChatTemplate);
        Assert.True(fallback.AddSpecialTokensWhenEncoding);
        Assert.Null(fallback.Template);
        Assert.Equal("### Instruction:\nHi\n\n### Output:\n", fallback.Format([ChatTurn.User("Hi")]));
        Assert.Null(ChatTemplate.FromTokenizerConfig(RepoPaths.Asset("stories260K-hf", "tokenizer_config.json")));

        Assert.Contains("no messages", Assert.Throws<MixLoraException>(() => withTemplate.Format([])).Message);
    }

    [Fact]
    public void ListValuedChatTemplatesPickDefaultOrTheNamedOne()
    {
        using var dir = new TempDir();
        var path = dir.File("tokenizer_config.json");
        File.WriteAllText(path, """
            {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
             "chat_template": [{"name": "default", "template": "{{ bos_token }}D{{ messages | length }}{{ eos_token }}"},
                               {"name": "tool_use", "template": "T{{ tools is none }}"}]}
            """);
        var template = ChatTemplate.FromTokenizerConfig(path)!;
        Assert.Equal("<s>D1</s>", template.Render([ChatTurn.User("x")], true));
        Assert.Equal($"{path} (chat_template \"default\")", template.Source);
        Assert.Equal("TTrue", ChatTemplate.FromTokenizerConfig(path, "tool_use")!.Render([ChatTurn.User("x")], true));
        Assert.Contains("has no template named \"rag\" (templates: default, tool_use)",
            Assert.Throws<InvalidFileException>(() => ChatTemplate.FromTokenizerConfig(path, "rag")).Message);

        File.WriteAllText(path, """{"chat_template": [{"name": "tool_use", "template": "x"}]}""");
        Assert.Contains("lists templates (tool_use) but none named \"default\"",
            Assert.Throws<InvalidFileException>(() => ChatTemplate.FromTokenizerConfig(path)).Message);

        File.WriteAllText(path, """{"chat_template": 3}""");
        Assert.Contains("'chat_template' must be a string or a list", Assert.Throws<InvalidFileException>(() => ChatTemplate.FromTokenizerConfig(path)).Message);

        File.WriteAllText(path, """{"chat_template": "{% if %}"}""");
        var syntax = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromTokenizerConfig(path));
        Assert.StartsWith($"{path} (chat_template): chat template syntax error at line 1, column 7:", syntax.Message);
    }

    [Fact]
    public void AChatTemplateJinjaFileTakesPrecedence()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": "<B>", "chat_template": "config"}""");
        Assert.Equal("config", ChatTemplate.FromFolder(dir.Path)!.Render([], false));
        File.WriteAllText(dir.File("chat_template.jinja"), "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}\n");
        var template = ChatTemplate.FromFolder(dir.Path)!;
        Assert.Equal(dir.File("chat_template.jinja"), template.Source);
        Assert.Equal("<B>[user:a]>", template.Render([ChatTurn.User("a")], true));
        Assert.Equal("<B>[user:a]", ChatFormatter.ForModel(dir.Path, PromptTemplate.MoePeft).Format([ChatTurn.User("a")], addGenerationPrompt: false));
        Assert.Null(ChatTemplate.FromFolder(RepoPaths.Asset("tokenizers", "llama2")));
    }

    [Fact]
    public void ExtraVariablesCannotReplaceMessagesOrTheGenerationFlag()
    {
        var template = new ChatTemplate("{{ messages | length }}{{ add_generation_prompt }}{{ x }}");
        Assert.Equal("1TrueX", template.Render([ChatTurn.User("a")], true, new Dictionary<string, object?> { ["x"] = "X" }));
        Assert.Throws<ArgumentException>(() => template.Render([], true, new Dictionary<string, object?> { ["messages"] = "no" }));
    }
}
