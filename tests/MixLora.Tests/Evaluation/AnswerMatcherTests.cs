using MixLora.Evaluation;

namespace MixLora.Tests.Evaluation;

public sealed class AnswerMatcherTests
{
    [Theory]
    [InlineData("the correct answer is answer2", 3)]
    [InlineData("answer10 is not it, answer3 is", 4)]
    [InlineData("Answer: B", 1)]
    [InlineData(" (A) the first", 0)]
    [InlineData("no letter here", null)]
    public void FindsTheFirstWholeWordCandidate(string text, int? expected)
    {
        var matcher = new AnswerMatcher(["A", "B", "answer1", "answer2", "answer3"]);
        Assert.Equal(expected, matcher.Find(text));
    }

    [Fact]
    public void AnAnswerIsSettledOnlyOnceSomethingFollowsIt()
    {
        var matcher = new AnswerMatcher(["answer1", "answer2"]);
        Assert.False(matcher.IsSettled("the correct answer is answer1"));   // "answer10" could still follow
        Assert.True(matcher.IsSettled("the correct answer is answer1\n"));
        Assert.False(matcher.IsSettled("the correct answer is"));
    }

    [Fact]
    public void TruncationKeepsBosAndTheEnd()
    {
        Assert.Equal([1, 8, 9], PromptTruncation.KeepEnd([1, 5, 6, 7, 8, 9], 3, bosId: 1));
        Assert.Equal([7, 8, 9], PromptTruncation.KeepEnd([5, 6, 7, 8, 9], 3, bosId: 1));
        Assert.Equal([1, 5], PromptTruncation.KeepEnd([1, 5], 3, bosId: 1));
    }
}
