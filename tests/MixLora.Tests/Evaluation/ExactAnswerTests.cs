using MixLora.Evaluation;

namespace MixLora.Tests.Evaluation;

public class ExactAnswerTests
{
    [Theory]
    [InlineData("Paris", "Paris", true)]
    [InlineData(" Paris\nThe capital of Germany is", "Paris", true)]     // a one-line answer ends at the first line break
    [InlineData("\n\n  Paris  \n", " Paris \n", true)]                  // leading blank lines and surrounding spaces do not count
    [InlineData("paris", "Paris", false)]                                 // case-sensitive
    [InlineData("Paris.", "Paris", false)]
    [InlineData("Paris is", "Paris", false)]                              // no line break: the whole generation is the answer
    [InlineData("line one\r\nline two\nmore", "line one\nline two", true)] // a two-line answer keeps two lines; \r\n is \n
    [InlineData("line one\nmore", "line one\nline two", false)]
    [InlineData("", "Paris", null)]
    [InlineData(" \n ", "Paris", null)]                                  // nothing but whitespace: unanswered
    public void TheAnswerIsAsManyTrimmedLinesAsTheGoldOutputHas(string generated, string reference, bool? expected) =>
        Assert.Equal(expected, ExactAnswer.Judge(generated, reference));

    [Theory]
    [InlineData(" Paris", 1, false)]
    [InlineData(" Paris\n", 1, true)]
    [InlineData("\n Paris", 1, false)]   // the line break before the answer does not end it
    [InlineData("a\nb", 2, false)]
    [InlineData("a\nb\n", 2, true)]
    public void GenerationCanStopOnceTheAnswerLinesAreEnded(string generated, int lines, bool complete) =>
        Assert.Equal(complete, ExactAnswer.IsComplete(generated, lines));
}
