using MixLora.Evaluation;
using MixLora.Tests.Support;
using MixLora.Tokenization;

namespace MixLora.Tests.Evaluation;

public sealed class CandidateTokensTests
{
    private static EvaluationTaskData Task(string[] candidates, string[] texts) =>
        new("t", "(in memory)", TaskRecordShape.Original, candidates, texts, [new EvaluationExample(0, "Answer:", "Answer:", 0)], []);

    [Fact]
    public void SingleTokenCandidatesOfTheLlama2TokenizerNeedNoWarning()
    {
        var llama2 = TokenizerLoader.FromFolder(RepoPaths.Asset("tokenizers", "llama2"));
        // " true" is [▁, ▁true] and " 1" is [▁, 1]: one real piece each once the lone "▁" is set aside.
        Assert.Null(CandidateTokens.MultiTokenWarning(Task(["true", "false"], [" true", " false"]), llama2));
        Assert.Null(CandidateTokens.MultiTokenWarning(Task(["1", "A"], [" 1", " A"]), llama2));
        Assert.Equal(2, CandidateTokens.LastIds(Task(["true", "false"], [" true", " false"]), llama2).Distinct().Count());
    }

    [Fact]
    public void MultiTokenCandidatesAreNamedInAWarning()
    {
        var tok512 = TokenizerLoader.FromFolder(Stories260K.Dir);
        var warning = CandidateTokens.MultiTokenWarning(Task(["true", "false"], [" true", " false"]), tok512);
        Assert.NotNull(warning);
        Assert.Contains("2 of 2 candidates", warning);
        Assert.Contains("\"true\" = \"t\" + \"r\" + \"u\" + \"e\"", warning);
    }
}
