using MixLora.Data;
using MixLora.Tests.Support;

namespace MixLora.Tests.Data;

public class PromptTemplateTests
{
    [Fact]
    public void AlpacaTextsAreExact()
    {
        var withInput = PromptTemplate.Alpaca.Render("Translate.", "Bonjour", "Hello");
        Assert.Equal(
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
            "### Instruction:\nTranslate.\n\n### Input:\nBonjour\n\n### Response:\n", withInput.Prompt);
        Assert.Equal(withInput.Prompt + "Hello\n", withInput.Full);
        Assert.Equal("Hello\n", withInput.Response);

        var noInput = PromptTemplate.Alpaca.Render("Say hi.", "", "Hi");
        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
            "### Instruction:\nSay hi.\n\n### Response:\nHi\n", noInput.Full);
        Assert.Equal("### Response:", PromptTemplate.Alpaca.ResponseSplit);
        Assert.Equal("Template used by Alpaca-LoRA.", PromptTemplate.Alpaca.Description);
    }

    [Fact]
    public void MoePeftTextsAreExact()
    {
        Assert.Equal("### Instruction:\nA\n\n### Input:\nB\n\n### Output:\nC\n", PromptTemplate.MoePeft.Render("A", "B", "C").Full);
        Assert.Equal("### Instruction:\nA\n\n### Output:\nC\n", PromptTemplate.MoePeft.Render("A", null, "C").Full);
        Assert.Equal("### Output:", PromptTemplate.MoePeft.ResponseSplit);
        Assert.Equal("Default Prompt Template Provided by MoE-PEFT", PromptTemplate.MoePeft.Description);
    }

    [Fact]
    public void WithoutOutputTheFullTextIsThePrompt()
    {
        var text = PromptTemplate.MoePeft.Render("A", "", null);
        Assert.Equal("### Instruction:\nA\n\n### Output:\n", text.Full);
        Assert.Equal(text.Prompt, text.Full);
        Assert.Equal("", text.Response);
    }

    [Fact]
    public void BracesInUserTextAreNotReinterpreted()
    {
        var text = PromptTemplate.MoePeft.Render("use {input} and {{x}}", "{instruction}", "{}");
        Assert.Equal("### Instruction:\nuse {input} and {{x}}\n\n### Input:\n{instruction}\n\n### Output:\n{}\n", text.Full);
    }

    [Fact]
    public void ResolveAndResponseExtraction()
    {
        Assert.Same(PromptTemplate.MoePeft, PromptTemplate.Resolve(null));
        Assert.Same(PromptTemplate.Alpaca, PromptTemplate.Resolve("alpaca"));
        Assert.Same(PromptTemplate.MoePeft, PromptTemplate.Resolve("moe_peft"));
        Assert.Contains("prompt \"vicuna\" is neither a built-in template (alpaca, moe_peft) nor an existing template file",
            Assert.ThrowsAny<MixLoraException>(() => PromptTemplate.Resolve("vicuna")).Message);
        Assert.Equal("Paris.", PromptTemplate.Alpaca.ExtractResponse("### Response: first\n### Response:\n  Paris. \n"));
        Assert.Equal("no split", PromptTemplate.Alpaca.ExtractResponse(" no split "));
    }

    [Fact]
    public void TemplateFilesLoadWithPythonFormatRules()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.json"), """
            {"description": "mine", "prompt_input": "Q: {instruction} [{input}] {{literal}}\nA: ", "prompt_no_input": "Q: {instruction}\nA: ", "response_split": "A:"}
            """);
        var template = PromptTemplate.Resolve("t.json", dir.Path);
        Assert.Equal("mine", template.Description);
        Assert.Equal("Q: x [y] {literal}\nA: z\n", template.Render("x", "y", "z").Full);
        Assert.Equal("Q: x\nA: ", template.Render("x", "").Prompt);
    }

    [Theory]
    [InlineData("""{"prompt_input": "{instruction} {question}", "prompt_no_input": "{instruction}", "response_split": "A:"}""", "key \"prompt_input\": unknown placeholder {question}")]
    [InlineData("""{"prompt_input": "{instruction", "prompt_no_input": "{instruction}", "response_split": "A:"}""", "key \"prompt_input\": unclosed '{'")]
    [InlineData("""{"prompt_input": "{input}", "prompt_no_input": "}", "response_split": "A:"}""", "key \"prompt_no_input\": single '}'")]
    [InlineData("""{"prompt_input": "{input}", "response_split": "A:"}""", "missing key \"prompt_no_input\"")]
    [InlineData("""{"prompt_input": 3, "prompt_no_input": "", "response_split": "A:"}""", "key \"prompt_input\" must be a string")]
    [InlineData("""[1]""", "expected a JSON object")]
    [InlineData("""{"prompt_input": """, "not valid JSON")]
    public void BadTemplateFilesNameTheFileAndKey(string json, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidFileException>(() => PromptTemplate.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(expected, e.Message);
    }
}
