using MixLora.Adapters;
using MixLora.Generation;
using MixLora.Serving;
using MixLora.Tests.Support;
using MixLora.Tests.Training;

namespace MixLora.Tests.Cli;

/// <summary>`mixlora chat`: streamed answers, switching adapters, reset, and clear errors for unknown commands.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class ChatCommandTests
{
    private static string MixLoraDir => RepoPaths.Asset("golden", "mixlora-stories260K", "adapter");

    [Fact]
    public async Task AConversationSwitchesAdaptersAndAnswersAsTheSchedulerDoes()
    {
        const string input = "Tell me a story.\n/adapter\n/adapter moe\nAnd then?\n/adapter nope\n/frobnicate\n/reset\nTell me a story.\n/quit\n";
        var result = CliRunner.RunWithInput(input, "chat", "--model", Stories260K.Dir, "--adapter", $"moe={MixLoraDir}", "-t", "0", "-n", "12");
        Assert.True(result.ExitCode == 0, result.Err);
        var answers = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, answers.Length);
        Assert.Contains("instruction prompt template", result.Err);                    // stories260K has no chat template
        Assert.Contains("models: base, stories260K-hf, moe; answering: base", result.Err);
        Assert.Contains("(now moe; the conversation goes on)", result.Err);
        Assert.Contains("error: no model named \"nope\"; served: base, stories260K-hf, moe", result.Err);
        Assert.Contains("error: unknown command /frobnicate", result.Err);
        Assert.Contains("(conversation cleared)", result.Err);

        // The first answer is what the scheduler gives for the alpaca prompt of that one message.
        using var model = Stories260K.Load();
        using var moe = Adapter.Load(model.Model, MixLoraDir);
        using var scheduler = new GenerationScheduler(model, new Dictionary<string, Adapter> { ["moe"] = moe });
        var prompt = ChatPrompts.Encoder(new ChatFormatter(null, MixLora.Data.PromptTemplate.Alpaca), model.Tokenizer)([ChatTurn.User("Tell me a story.")], "base");
        var sampling = new SamplingOptions { Temperature = 0, MaxNewTokens = 12 };
        var onBase = await scheduler.GenerateAsync(new GenerationRequest { PromptIds = prompt, Model = "base", Sampling = sampling });
        var onMoe = await scheduler.GenerateAsync(new GenerationRequest { PromptIds = prompt, Model = "moe", Sampling = sampling });
        Assert.Equal(onBase.Text, answers[0]);
        Assert.Equal(onMoe.Text, answers[2]);                                           // after /reset the history is empty again
    }

    [Fact]
    public void ClashingNamesFailBeforeLoading()
    {
        var result = CliRunner.RunWithInput("", "chat", "--model", "/nonexistent", "--adapter", $"base={MixLoraDir}");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the name \"base\" is the base model's", result.Err);
    }
}
