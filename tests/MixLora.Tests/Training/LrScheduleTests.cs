using MixLora.Training;

namespace MixLora.Tests.Training;

// Expected values worked out by hand from the Hugging Face get_scheduler formulas with 4 warmup steps and 20 total
// steps: warmup s/4; linear (20 − s)/16; cosine ½(1 + cos(π·p)) with p = (s − 4)/16; polynomial
// ((lr − 1e-7)·(1 − p) + 1e-7)/lr with lr = 1e-3; inverse_sqrt 1/√((s + shift)/timescale), timescale = warmup.
public class LrScheduleTests
{
    private const double CosQuarter = 0.8535533905932737; // ½(1 + cos(π/4)) = ½ + √2/4

    [Theory]
    //          type                    step  expected
    [InlineData("constant", 0, 1.0)]
    [InlineData("constant", 2, 1.0)]
    [InlineData("constant", 20, 1.0)]
    [InlineData("constant_with_warmup", 0, 0.0)]
    [InlineData("constant_with_warmup", 2, 0.5)]
    [InlineData("constant_with_warmup", 4, 1.0)]
    [InlineData("constant_with_warmup", 12, 1.0)]
    [InlineData("constant_with_warmup", 20, 1.0)]
    [InlineData("linear", 0, 0.0)]
    [InlineData("linear", 2, 0.5)]
    [InlineData("linear", 4, 1.0)]
    [InlineData("linear", 12, 0.5)]
    [InlineData("linear", 16, 0.25)]
    [InlineData("linear", 20, 0.0)]
    [InlineData("linear", 25, 0.0)]
    [InlineData("cosine", 0, 0.0)]
    [InlineData("cosine", 2, 0.5)]
    [InlineData("cosine", 4, 1.0)]
    [InlineData("cosine", 8, CosQuarter)]
    [InlineData("cosine", 12, 0.5)]
    [InlineData("cosine", 20, 0.0)]
    [InlineData("cosine_with_restarts", 0, 0.0)]
    [InlineData("cosine_with_restarts", 3, 0.75)]
    [InlineData("cosine_with_restarts", 4, 1.0)]
    [InlineData("cosine_with_restarts", 8, CosQuarter)]
    [InlineData("cosine_with_restarts", 12, 0.5)]
    [InlineData("cosine_with_restarts", 20, 0.0)]
    [InlineData("cosine_with_restarts", 30, 0.0)]
    [InlineData("polynomial", 0, 0.0)]
    [InlineData("polynomial", 2, 0.5)]
    [InlineData("polynomial", 4, 1.0)]
    [InlineData("polynomial", 12, 0.50005)]   // (0.0009999·0.5 + 1e-7)/1e-3
    [InlineData("polynomial", 20, 1e-4)]      // lr_end / lr
    [InlineData("polynomial", 25, 1e-4)]
    [InlineData("inverse_sqrt", 0, 0.0)]
    [InlineData("inverse_sqrt", 2, 0.5)]
    [InlineData("inverse_sqrt", 4, 1.0)]
    [InlineData("inverse_sqrt", 16, 0.5)]     // 1/√(16/4)
    [InlineData("inverse_sqrt", 36, 1.0 / 3)]
    public void Multiplier_matches_the_hf_formula(string type, int step, double expected)
    {
        var schedule = LrSchedule.Create(type, warmupSteps: 4, totalSteps: 20, baseLearningRate: 1e-3);
        Assert.Equal(expected, schedule.Multiplier(step), 1e-12);
    }

    [Fact]
    public void Without_warmup_schedules_start_at_one()
    {
        foreach (var type in LrSchedule.SupportedTypes)
            Assert.Equal(1.0, LrSchedule.Create(type, 0, 10, baseLearningRate: 1e-3).Multiplier(0), 1e-12);
        Assert.Equal(0.5, LrSchedule.Create("linear", 0, 10).Multiplier(5), 1e-12);
    }

    [Fact]
    public void Inverse_sqrt_without_warmup_uses_a_timescale_of_ten_thousand()
    {
        var schedule = LrSchedule.Create("inverse_sqrt", 0, 100);
        Assert.Equal(0.5, schedule.Multiplier(30_000), 1e-12);                   // 1/√((30000 + 10000)/10000)
        Assert.Equal(1 / Math.Sqrt(1.0001), schedule.Multiplier(1), 1e-15);
    }

    [Fact]
    public void Unknown_type_names_the_supported_ones()
    {
        var error = Assert.Throws<MixLoraException>(() => LrSchedule.Create("cosine_with_min_lr", 0, 10));
        Assert.Contains("'cosine_with_min_lr'", error.Message);
        foreach (var type in LrSchedule.SupportedTypes) Assert.Contains(type, error.Message);
    }

    [Fact]
    public void Polynomial_needs_a_learning_rate_above_lr_end()
    {
        Assert.Throws<MixLoraException>(() => LrSchedule.Create("polynomial", 0, 10));
        Assert.Throws<MixLoraException>(() => LrSchedule.Create("polynomial", 0, 10, baseLearningRate: 1e-7));
        Assert.Throws<MixLoraException>(() => LrSchedule.Create("linear", -1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Create("linear", 0, 10).Multiplier(-1));
    }
}
