using MixLora.Config;
using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// The tensor names and shapes an adapter config implies on a base model, in the reference's insertion order
/// (spec §5.3), and the check that a loaded adapter has exactly those.
/// </summary>
public static class AdapterLayout
{
    /// <summary>Tensor-name prefix of MixLoRA adapters.</summary>
    public const string MixLoraPrefix = "mixlora";

    /// <summary>Tensor-name prefix of plain LoRA adapters (Hugging Face PEFT naming for LLaMA-style models).</summary>
    public const string LoraPrefix = "base_model.model.model";

    /// <summary>Suffix of the DoRA magnitude vectors we persist (spec §5.7); optional when loading.</summary>
    public const string MagnitudeSuffix = ".magnitude";

    /// <summary>Hugging Face PEFT's name for the same DoRA magnitude (read as an alias; written with <c>--peft-names</c>).</summary>
    public const string PeftMagnitudeSuffix = ".lora_magnitude_vector";

    /// <summary>
    /// Renames HF PEFT DoRA magnitudes (<c>{prefix}.lora_magnitude_vector</c>) to ours (<c>{prefix}.magnitude</c>) in
    /// place, so adapters trained with HF PEFT keep their trained magnitudes. When a file holds both, they must agree.
    /// </summary>
    /// <exception cref="InvalidFileException">Both names are present with different values.</exception>
    public static void UsePeftMagnitudes(string dir, OrderedDictionary<string, torch.Tensor> tensors)
    {
        foreach (var peftName in tensors.Keys.Where(k => k.EndsWith(PeftMagnitudeSuffix, StringComparison.Ordinal)).ToList())
        {
            var ours = peftName[..^PeftMagnitudeSuffix.Length] + MagnitudeSuffix;
            var value = tensors[peftName];
            tensors.Remove(peftName);
            if (!tensors.TryGetValue(ours, out var existing))
            {
                tensors.Insert(tensors.Count, ours, value);
                continue;
            }
            bool same;
            using (torch.NewDisposeScope()) same = existing.shape.SequenceEqual(value.shape) && existing.eq(value).all().item<bool>();
            value.Dispose();
            if (!same) throw new InvalidFileException(dir, $"{peftName} and {ours} are the same DoRA magnitude but hold different values");
        }
    }

    /// <summary>
    /// Every tensor, in order. MixLoRA, per layer i: attention LoRAs <c>mixlora.layers.{i}.self_attn.{proj}.lora_A/B.weight</c>,
    /// then the router <c>mixlora.layers.{i}.mlp.moe_gate.weight</c> [E, H], then per FFN projection and expert e
    /// <c>mixlora.layers.{i}.mlp.{proj}.experts.{e}.lora_A/B.weight</c>. Plain LoRA:
    /// <c>base_model.model.model.layers.{i}.{self_attn|mlp}.{proj}.lora_A/B.weight</c>. A is [r, in], B is [out, r];
    /// with DoRA a <c>{prefix}.magnitude</c> [out] follows each pair.
    /// </summary>
    /// <exception cref="InvalidFileException">The config is invalid or targets a projection the model lacks.</exception>
    public static IReadOnlyList<(string Name, long[] Shape)> Expected(AdapterConfig config, ModelConfig baseModel)
    {
        config.Validate(AdapterFolder.ConfigFileName, baseModel);
        var (attention, ffn) = AdapterTargetModules.ForModelType(baseModel.ModelType);
        var targets = AdapterTargetModules.Normalize(config.TargetModules!);
        var attentionLora = config.AttentionLora;
        var result = new List<(string, long[])>();

        void AddLora(string prefix, string proj, int rank, bool dora)
        {
            var (inFeatures, outFeatures) = ProjectionShape(proj, baseModel);
            result.Add(($"{prefix}.lora_A.weight", [rank, inFeatures]));
            result.Add(($"{prefix}.lora_B.weight", [outFeatures, rank]));
            if (dora) result.Add(($"{prefix}{MagnitudeSuffix}", [outFeatures]));
        }

        for (int layer = 0; layer < baseModel.NumHiddenLayers; layer++)
        {
            if (!config.IsMixLora)
            {
                foreach (var proj in targets)
                {
                    var group = attention.Contains(proj) ? "self_attn" : "mlp";
                    AddLora($"{LoraPrefix}.layers.{layer}.{group}.{proj}", proj, attentionLora.Rank, attentionLora.UseDora);
                }
                continue;
            }
            foreach (var proj in targets.Where(attention.Contains))
            {
                AddLora($"{MixLoraPrefix}.layers.{layer}.self_attn.{proj}", proj, attentionLora.Rank, attentionLora.UseDora);
            }
            result.Add(($"{MixLoraPrefix}.layers.{layer}.mlp.moe_gate.weight", [config.NumExperts!.Value, baseModel.HiddenSize]));
            var expertLora = config.ExpertLora;
            foreach (var proj in targets.Where(ffn.Contains))
            {
                for (int expert = 0; expert < config.NumExperts!.Value; expert++)
                {
                    AddLora($"{MixLoraPrefix}.layers.{layer}.mlp.{proj}.experts.{expert}", proj, expertLora.Rank, expertLora.UseDora);
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Checks that <paramref name="tensors"/> are exactly the <see cref="Expected"/> ones (DoRA magnitudes may be
    /// absent) with the expected shapes and a floating dtype. Reports every problem in one
    /// <see cref="InvalidFileException"/> naming <paramref name="dir"/>; nothing is ever silently re-initialised.
    /// </summary>
    public static void Check(string dir, AdapterConfig config, ModelConfig baseModel, IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        config.Validate(Path.Combine(dir, AdapterFolder.ConfigFileName), baseModel);
        var expected = Expected(config, baseModel);
        var expectedNames = expected.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);

        var missing = expected.Where(e => !tensors.ContainsKey(e.Name) && !IsOptional(e.Name)).Select(e => e.Name).ToList();
        var unexpected = tensors.Keys.Where(name => !expectedNames.Contains(name)).ToList();
        var wrongShapes = new List<string>();
        var wrongTypes = new List<string>();
        foreach (var (name, shape) in expected)
        {
            if (!tensors.TryGetValue(name, out var tensor)) continue;
            if (!tensor.shape.SequenceEqual(shape)) wrongShapes.Add($"{name}: expected {Show(shape)}, found {Show(tensor.shape)}");
            if (!tensor.is_floating_point()) wrongTypes.Add($"{name}: {tensor.dtype}");
        }
        if (missing.Count + unexpected.Count + wrongShapes.Count + wrongTypes.Count == 0) return;

        var problems = new List<string>();
        if (missing.Count > 0) problems.Add($"{missing.Count} missing tensor(s): {List(missing)}");
        if (unexpected.Count > 0) problems.Add($"{unexpected.Count} unexpected tensor(s): {List(unexpected)}");
        if (wrongShapes.Count > 0) problems.Add($"{wrongShapes.Count} tensor(s) with a wrong shape: {List(wrongShapes)}");
        if (wrongTypes.Count > 0) problems.Add($"{wrongTypes.Count} tensor(s) that are not floating point: {List(wrongTypes)}");
        var hint = tensors.Keys.Any(LegacyAdapterConverter.IsLegacyTensorName)
            ? " The weights use the legacy m-LoRA names; convert the adapter with LegacyAdapterConverter."
            : "";
        throw new InvalidFileException(dir,
            $"the adapter weights do not match {AdapterFolder.ConfigFileName} on this base model " +
            $"(model_type {baseModel.ModelType}, {baseModel.NumHiddenLayers} layers): {string.Join("; ", problems)}.{hint}");
    }

    /// <summary>Whether a tensor may be absent from a file (DoRA magnitudes: the reference never saves them).</summary>
    public static bool IsOptional(string name) => name.EndsWith(MagnitudeSuffix, StringComparison.Ordinal);

    /// <summary>(in, out) features of a projection of the family (LLaMA-style, Phi-3's fused, Phi's).</summary>
    public static (long In, long Out) ProjectionShape(string proj, ModelConfig c)
    {
        long hidden = c.HiddenSize, queries = (long)c.NumAttentionHeads * c.HeadDim, keyValues = (long)c.KeyValueHeads * c.HeadDim;
        return proj switch
        {
            "q_proj" => (hidden, queries),
            "k_proj" or "v_proj" => (hidden, keyValues),
            "qkv_proj" => (hidden, queries + 2 * keyValues),
            "o_proj" or "dense" => (queries, hidden),
            "gate_proj" or "up_proj" or "fc1" => (hidden, c.IntermediateSize),
            "gate_up_proj" => (hidden, 2L * c.IntermediateSize),
            "down_proj" or "fc2" => (c.IntermediateSize, hidden),
            _ => throw new MixLoraException($"projection \"{proj}\" does not exist on model_type \"{c.ModelType}\""),
        };
    }

    private static string Show(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static string List(IReadOnlyList<string> items, int max = 10) =>
        string.Join(", ", items.Take(max)) + (items.Count > max ? $", … and {items.Count - max} more" : "");
}
