using MixLora.Data;
using MixLora.Tests.Support;

namespace MixLora.Tests.Data.Demo;

public class DemoDatasetTests
{
    private static readonly Lazy<MixLora.Tokenization.ITextTokenizer> Tokenizer = new(() =>
    {
        using var model = Stories260K.Load();
        return model.Tokenizer;
    });

    [Fact]
    public void EveryTaskHasItsTrainingAndHeldOutExamples()
    {
        Assert.Equal(["repeat", "who", "what", "plural"], DemoDataset.TaskNames);
        foreach (var task in DemoDataset.TaskNames)
        {
            Assert.Equal(141, DemoDataset.Train.Count(r => r.Task == task));
            Assert.Equal(DemoDataset.ValidationPerTask, DemoDataset.Validation.Count(r => r.Task == task));
        }
        Assert.Equal(4 * 141, DemoDataset.Train.Count);
        Assert.Equal(4 * 40, DemoDataset.Validation.Count);
        // Tasks are interleaved, so any prefix of the list (a short demo run) sees all of them.
        Assert.Equal(DemoDataset.TaskNames, DemoDataset.Train.Take(4).Select(r => r.Task));
    }

    [Fact]
    public void GenerationIsDeterministic()
    {
        Assert.Equal(DemoDataset.Train, DemoDataset.Generate(heldOut: false));
        Assert.Equal(DemoDataset.Validation, DemoDataset.Generate(heldOut: true));
        // Pinned: the same records on every machine and run.
        Assert.Equal(new DemoRecord("repeat", "Say again: ant", "ant"), DemoDataset.Train[0]);
        Assert.Equal(new DemoRecord("plural", "One ant, many", "ants"), DemoDataset.Train[3]);
        Assert.Equal(new DemoRecord("repeat", "Say again: bean", "bean"), DemoDataset.Validation[0]);
        Assert.Equal("who", DemoDataset.Train[1].Task);
        Assert.Matches(@"^[A-Z][a-z]+ has the [a-z]+\. Who has it\?$", DemoDataset.Train[1].Instruction);
    }

    [Fact]
    public void HeldOutExamplesUseOnlyWordsNeverSeenInTraining()
    {
        var trainWords = DemoDataset.Train.SelectMany(r => Words(r.Instruction).Append(r.Output)).ToHashSet();
        var frame = new HashSet<string> { "Say", "again", "has", "the", "Who", "it", "What", "does", "have", "One", "many" };
        foreach (var record in DemoDataset.Validation)
        {
            Assert.DoesNotContain(record.Output, trainWords);
            foreach (var word in Words(record.Instruction).Where(w => !frame.Contains(w)))
                Assert.False(trainWords.Contains(word), $"held-out \"{record.Instruction}\" uses the training word \"{word}\"");
        }
        Assert.Empty(DemoDataset.Validation.Select(DemoDataset.Prompt).Intersect(DemoDataset.Train.Select(DemoDataset.Prompt)));
    }

    [Fact]
    public void NoExampleIsRepeated()
    {
        Assert.Equal(DemoDataset.Train.Count, DemoDataset.Train.Distinct().Count());
        Assert.Equal(DemoDataset.Validation.Count, DemoDataset.Validation.Distinct().Count());
    }

    [Fact]
    public void AnswersFollowEachTasksRule()
    {
        foreach (var r in DemoDataset.Train.Concat(DemoDataset.Validation))
        {
            var words = Words(r.Instruction).ToList();
            switch (r.Task)
            {
                case "repeat": Assert.Equal(words[^1], r.Output); break;
                case "who": Assert.Equal(words[0], r.Output); break;
                case "what": Assert.Equal(words[3], r.Output); break;
                case "plural": Assert.Equal(words[1] + "s", r.Output); break;
                default: Assert.Fail($"unknown task {r.Task}"); break;
            }
        }
    }

    [Fact]
    public void PromptAndFullTextShareTheFrame()
    {
        var record = new DemoRecord("repeat", "Say again: ball", "ball");
        Assert.Equal("Q: Say again: ball\nA:", DemoDataset.Prompt(record));
        Assert.Equal("Q: Say again: ball\nA: ball.", DemoDataset.FullText(record));
        foreach (var r in DemoDataset.Train.Take(8))
            Assert.StartsWith(DemoDataset.Prompt(r), DemoDataset.FullText(r));
    }

    [Theory]
    [InlineData(" ball.", true)]
    [InlineData(" Ball", true)]
    [InlineData("ball", true)]
    [InlineData("  \"ball!\" she said", true)]
    [InlineData(" ball\nQ: next", true)]
    [InlineData(" balls.", false)]
    [InlineData(" doll", false)]
    [InlineData(" the ball", false)]
    [InlineData("", false)]
    [InlineData(" ...", false)]
    public void IsCorrectComparesTheFirstWord(string continuation, bool expected)
    {
        Assert.Equal(expected, DemoDataset.IsCorrect(continuation, new DemoRecord("repeat", "Say again: ball", "ball")));
    }

    [Fact]
    public void PromptTokensArePrefixOfFullTextTokensAndAnswersAreShort()
    {
        var tokenizer = Tokenizer.Value;
        int longest = 0;
        foreach (var r in DemoDataset.Train.Concat(DemoDataset.Validation))
        {
            var prompt = tokenizer.Encode(DemoDataset.Prompt(r));
            var full = tokenizer.Encode(DemoDataset.FullText(r));
            // Training masks the prompt by its token count: the prompt must tokenize the same inside the full text.
            Assert.Equal(prompt, full.Take(prompt.Count));
            int answerTokens = full.Count - prompt.Count; // " answer." including the full stop
            Assert.True(answerTokens <= DemoDataset.MaxAnswerTokens, $"\"{r.Output}\" takes {answerTokens} tokens");
            longest = Math.Max(longest, full.Count);
        }
        Assert.True(longest <= 32, $"the longest example has {longest} tokens");
    }

    private static IEnumerable<string> Words(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w.Trim('.', ',', '?', ':'));
}
