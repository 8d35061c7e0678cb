using TorchSharp.Modules;

namespace MixLora.Training;

/// <summary>Builds optimizer parameter groups the way MoE-PEFT does (spec §3.7, LoRA+).</summary>
public static class ParameterGroups
{
    /// <summary>One group with every parameter at <paramref name="learningRate"/>.</summary>
    public static IReadOnlyList<ParameterGroup> Single(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate) =>
        [new ParameterGroup("all", learningRate, parameters)];

    /// <summary>
    /// LoRA+ groups. Group "A": names without <c>lora_B</c> that are at least 2-D (lora_A, moe_gate, classifier) at
    /// <paramref name="learningRate"/>; group "B": names containing <c>lora_B</c> or 1-D tensors at
    /// <paramref name="learningRate"/> × <paramref name="ratio"/>. A ratio of exactly 1 gives a single group, as the
    /// reference does. Parameter order inside each group follows the input order.
    /// </summary>
    /// <exception cref="MixLoraException">The ratio is below 1 or not finite.</exception>
    public static IReadOnlyList<ParameterGroup> ForLoraPlus(
        IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate, double ratio)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!double.IsFinite(ratio) || ratio < 1.0)
            throw new MixLoraException($"loraplus_lr_ratio must be ≥ 1.0, not {ratio}");
        var all = parameters.ToList();
        if (ratio == 1.0) return Single(all, learningRate);

        var groupA = all.Where(p => !IsLoraPlusB(p.Name, p.Parameter));
        var groupB = all.Where(p => IsLoraPlusB(p.Name, p.Parameter));
        return [new ParameterGroup("A", learningRate, groupA), new ParameterGroup("B", learningRate * ratio, groupB)];
    }

    /// <summary>True when LoRA+ puts the tensor in the fast group B.</summary>
    public static bool IsLoraPlusB(string name, Parameter parameter) =>
        name.Contains("lora_B", StringComparison.Ordinal) || parameter.dim() < 2;
}
