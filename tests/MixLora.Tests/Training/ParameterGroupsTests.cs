using MixLora.Training;
using TorchSharp.Modules;
using static MixLora.Tests.Training.TrainingTensors;
using static TorchSharp.torch;

namespace MixLora.Tests.Training;

public class ParameterGroupsTests
{
    private static (string, Parameter)[] AdapterLike() =>
    [
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", new Parameter(zeros(2, 8))),
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", new Parameter(zeros(8, 2))),
        ("mixlora.layers.0.mlp.moe_gate.weight", new Parameter(zeros(4, 8))),
        ("mixlora.layers.0.mlp.experts.1.up_proj.lora_B.weight", new Parameter(zeros(16, 2))),
        ("score.bias", new Parameter(zeros(3))),
        ("classifier.weight", new Parameter(zeros(3, 8))),
    ];

    [Fact]
    public void Lora_plus_puts_lora_B_and_vectors_in_the_fast_group()
    {
        var groups = ParameterGroups.ForLoraPlus(AdapterLike(), 2e-4, 16);
        Assert.Equal(2, groups.Count);
        Assert.Equal(2e-4, groups[0].LearningRate);
        Assert.Equal(2e-4 * 16, groups[1].LearningRate);
        Assert.Equal(
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "mixlora.layers.0.mlp.moe_gate.weight", "classifier.weight"],
            groups[0].Parameters.Select(p => p.Name));
        Assert.Equal(
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", "mixlora.layers.0.mlp.experts.1.up_proj.lora_B.weight", "score.bias"],
            groups[1].Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Ratio_one_gives_a_single_group_in_input_order()
    {
        var input = AdapterLike();
        var groups = ParameterGroups.ForLoraPlus(input, 1e-3, 1.0);
        var group = Assert.Single(groups);
        Assert.Equal(1e-3, group.LearningRate);
        Assert.Equal(input.Select(p => p.Item1), group.Parameters.Select(p => p.Name));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    public void Ratio_below_one_is_rejected(double ratio)
    {
        var error = Assert.Throws<MixLoraException>(() => ParameterGroups.ForLoraPlus(AdapterLike(), 1e-3, ratio));
        Assert.Contains("loraplus_lr_ratio", error.Message);
    }

    [Fact]
    public void Negative_learning_rate_is_rejected()
    {
        using var p = Param(1f);
        Assert.Throws<MixLoraException>(() => new ParameterGroup("A", -1e-3, [("p", p)]));
    }
}
