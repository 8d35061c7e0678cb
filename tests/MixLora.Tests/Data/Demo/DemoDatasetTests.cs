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
            Assert.Equal(141 + DemoDataset.MadeUpPerTask, DemoDataset.Train.Count(r => r.Task == task));
            Assert.Equal(DemoDataset.ValidationPerTask, DemoDataset.Validation.Count(r => r.Task == task));
        }
        Assert.Equal(4000, DemoDataset.Train.Count);
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
        Assert.Equal(new DemoRecord("repeat", "Say again: snir", "snir"), DemoDataset.Train[0]);
        Assert.Equal(new DemoRecord("who", "Gub has the lane. Who has it?", "Gub"), DemoDataset.Train[1]);
        Assert.Equal(new DemoRecord("plural", "One ak, many", "aks"), DemoDataset.Train[3]);
        Assert.Equal(new DemoRecord("repeat", "Say again: axe", "axe"), DemoDataset.Validation[0]);
        Assert.Equal(new DemoRecord("who", "Jen has the leg. Who has it?", "Jen"), DemoDataset.Validation[1]);
        Assert.Equal(new DemoRecord("what", "Tom has the axe. What does Tom have?", "axe"), DemoDataset.Validation[2]);
    }

    [Fact]
    public void HeldOutExamplesUseOnlyWordsNeverSeenInTraining()
    {
        var trainWords = DemoDataset.Train.SelectMany(r => Words(r.Instruction).Append(r.Output)).ToHashSet();
        var frame = new HashSet<string> { "Say", "again", "has", "the", "Who", "it", "What", "does", "have", "One", "many" };
        Assert.Empty(DemoDataset.Train.Select(r => r.Output).Intersect(frame, StringComparer.OrdinalIgnoreCase));
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
        // Held-out answers do not repeat within a task (names do in "who": there are only ten held-out names).
        foreach (var task in new[] { "repeat", "what", "plural" })
        {
            var answers = DemoDataset.Validation.Where(r => r.Task == task).Select(r => r.Output).ToList();
            Assert.Equal(answers.Count, answers.Distinct().Count());
        }
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
            longest = Math.Max(longest, full.Count);
        }
        Assert.True(longest <= 48, $"the longest example has {longest} tokens");
        // Evaluation generates MaxAnswerTokens tokens: enough for every held-out answer and its full stop.
        foreach (var r in DemoDataset.Validation)
        {
            int answerTokens = tokenizer.Encode(DemoDataset.FullText(r)).Count - tokenizer.Encode(DemoDataset.Prompt(r)).Count;
            Assert.True(answerTokens <= DemoDataset.MaxAnswerTokens, $"\"{r.Output}.\" takes {answerTokens} tokens");
        }
    }

    private static IEnumerable<string> Words(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w.Trim('.', ',', '?', ':'));
}
