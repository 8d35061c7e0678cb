using MixLora.Serving;

namespace MixLora.Tests.Serving;

/// <summary>Every golden chat-template case renders to the reference string exactly, or raises the reference error.</summary>
public class ChatTemplateGoldenTests
{
    [Fact]
    public void TheGoldenFileCoversThreeTemplatesAndOneError()
    {
        var cases = ChatGolden.Cases();
        Assert.Equal(["gemma3", "llama3", "qwen3"], cases.Select(c => c.Template).Distinct().Order());
        Assert.Equal(19, cases.Count);
        Assert.Single(cases, c => c.Error is not null);
    }

    [Theory]
    [MemberData(nameof(ChatGolden.CaseIndexes), MemberType = typeof(ChatGolden))]
    public void RendersTheReferenceText(int index)
    {
        var c = ChatGolden.Cases()[index];
        var template = ChatGolden.Template(c);
        var messages = ChatGolden.Conversation(c.Conversation);
        if (c.Error is null)
        {
            Assert.Equal(c.Rendered, template.Render(messages, c.AddGenerationPrompt));
            return;
        }
        var error = Assert.Throws<ChatTemplateException>(() => template.Render(messages, c.AddGenerationPrompt));
        Assert.Equal(ChatTemplateErrorKind.Raised, error.Kind);
        Assert.Equal(c.Error, error.Problem);
        Assert.IsAssignableFrom<MixLoraException>(error);
        Assert.Contains(c.Error, error.Message);
        Assert.Contains(Path.Combine("tokenizers", c.Template, "tokenizer_config.json"), error.Message);
    }

    [Fact]
    public void Qwen3WithThinkingDisabledAddsAnEmptyThinkBlock()
    {
        // The Qwen3 template's last lines: after the generation prompt, `enable_thinking is defined and
        // enable_thinking is false` appends "<think>\n\n</think>\n\n" (transformers passes enable_thinking through).
        var c = ChatGolden.Cases().First(x => x.Template == "qwen3" && x.Conversation == "user_only" && x.AddGenerationPrompt);
        var text = ChatGolden.Template(c).Render(ChatGolden.Conversation("user_only"), addGenerationPrompt: true,
            new Dictionary<string, object?> { ["enable_thinking"] = false });
        Assert.Equal(c.Rendered + "<think>\n\n</think>\n\n", text);
    }

    [Fact]
    public void TokensComeFromTheTokenizerConfig()
    {
        var llama3 = ChatGolden.Template(ChatGolden.Cases().First(c => c.Template == "llama3"));
        Assert.Equal(("<|begin_of_text|>", "<|end_of_text|>", null, null), (llama3.BosToken, llama3.EosToken, llama3.UnkToken, llama3.PadToken));
        var qwen3 = ChatGolden.Template(ChatGolden.Cases().First(c => c.Template == "qwen3"));
        Assert.Equal((null, "<|im_end|>", null, "<|endoftext|>"), (qwen3.BosToken, qwen3.EosToken, qwen3.UnkToken, qwen3.PadToken));
        var gemma3 = ChatGolden.Template(ChatGolden.Cases().First(c => c.Template == "gemma3"));
        Assert.Equal(("<bos>", "<end_of_turn>", "<unk>", "<pad>"), (gemma3.BosToken, gemma3.EosToken, gemma3.UnkToken, gemma3.PadToken));
        Assert.EndsWith("tokenizer_config.json (chat_template)", gemma3.Source);
    }
}
