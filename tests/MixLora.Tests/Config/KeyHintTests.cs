using MixLora.Config;

namespace MixLora.Tests.Config;

public class KeyHintTests
{
    private static readonly string[] Keys = ["num_epochs", "batch_size", "micro_batch_size", "lr", "save_step", "top_k", "top_p"];

    [Theory]
    [InlineData("num_epoch", "num_epochs")]          // one deletion
    [InlineData("batch-size", "batch_size")]         // '-' for '_'
    [InlineData("BATCH_SIZE", "batch_size")]         // case
    [InlineData("micro_bacth_size", "micro_batch_size")] // transposition
    [InlineData("save_steps", "save_step")]
    [InlineData("top_kk", "top_k")]
    [InlineData("learning_rate", null)]              // a synonym is not a typo: no hint
    [InlineData("foo", null)]
    public void NearestKeyWithinAThirdOfTheLength(string given, string? expected) =>
        Assert.Equal(expected, KeyHint.Closest(given, Keys));

    [Theory]
    [InlineData("", "", 0)]
    [InlineData("abc", "", 3)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("ab", "ba", 1)]
    [InlineData("top_k", "top_p", 1)]
    public void EditDistance(string a, string b, int expected)
    {
        Assert.Equal(expected, KeyHint.EditDistance(a, b));
        Assert.Equal(expected, KeyHint.EditDistance(b, a));
    }
}
