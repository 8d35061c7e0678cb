using MixLora.Adapters;
using MixLora.IO;
using MixLora.IO.Gguf;
using static TorchSharp.torch;

namespace MixLora.Export;

/// <summary>What <see cref="GgufExporter"/> wrote.</summary>
public sealed record GgufExportSummary(string Path, string Type, int TensorCount, IReadOnlyDictionary<GgmlType, int> TensorsByType, long Bytes);

/// <summary>
/// Writes a model (with a LoRA, rsLoRA or DoRA adapter folded in, when given) as a GGUF v3 file in llama.cpp's
/// <c>llama</c> architecture (or its qwen3, gemma, gemma2, gemma3, phi3 or phi2 one, by the model's family), runnable
/// by llama.cpp, Ollama, LM Studio or LLamaSharp.
/// </summary>
public static class GgufExporter
{
    /// <summary>Storage types, each with llama.cpp's general.file_type (ALL_F32, MOSTLY_F16, MOSTLY_Q8_0).</summary>
    public static readonly IReadOnlyDictionary<string, (GgmlType Type, uint FileType)> Types = new Dictionary<string, (GgmlType, uint)>
    {
        ["f32"] = (GgmlType.F32, 0), ["f16"] = (GgmlType.F16, 1), ["q8_0"] = (GgmlType.Q8_0, 7),
    };

    /// <exception cref="MixLoraException">An unknown type, a model or tokenizer that cannot be exported, or an adapter that cannot be merged.</exception>
    public static GgufExportSummary Export(PretrainedModel model, Adapter? adapter, string outputPath, string type = "f32")
    {
        CheckType(type);
        using var merged = AdapterMerger.MergeWeights(model, adapter);
        return Export(merged, model.Directory, outputPath, type);
    }

    /// <summary>Writes <paramref name="merged"/> with the tokenizer of <paramref name="modelDir"/>.</summary>
    public static GgufExportSummary Export(MergedModel merged, string modelDir, string outputPath, string type = "f32")
    {
        CheckType(type);
        var (storage, fileType) = Types[type];
        var shape = GgufLlamaShape.From(merged.Config);
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir)));
        var metadata = shape.Metadata(name, fileType, shape.Config.VocabSize).ToList();
        metadata.AddRange(GgufVocabulary.Metadata(modelDir, shape.Config.VocabSize));

        using var scope = NewDisposeScope();
        var tensors = GgufLlamaTensors.Map(merged.Tensors, shape);
        if (shape.RopeFrequencyFactors() is { } ropeFactors) tensors.Add(("rope_freqs.weight", ropeFactors));
        tensors.AddRange(shape.LongRopeFactors());
        var stored = tensors.Select(t => new GgufTensorData(t.Name, t.Tensor, StorageType(t.Name, t.Tensor, storage))).ToList();
        GgufWriter.Write(outputPath, metadata, stored);
        return new GgufExportSummary(outputPath, type, stored.Count,
            stored.GroupBy(t => t.Type).ToDictionary(g => g.Key, g => g.Count()), new FileInfo(outputPath).Length);
    }

    /// <summary>
    /// The converter's choice: vectors, norms and the MoE router stay F32 (tiny, and precision-critical); a row that
    /// is not whole Q8_0 blocks falls back to F16.
    /// </summary>
    internal static GgmlType StorageType(string name, Tensor tensor, GgmlType requested)
    {
        if (tensor.dim() <= 1 || name.EndsWith("_norm.weight", StringComparison.Ordinal) || name.Contains(".ffn_gate_inp.", StringComparison.Ordinal))
            return GgmlType.F32;
        if (requested == GgmlType.Q8_0 && tensor.shape[^1] % Q8_0.BlockElements != 0) return GgmlType.F16;
        return requested;
    }

    private static void CheckType(string type)
    {
        if (!Types.ContainsKey(type)) throw new MixLoraException($"--type \"{type}\" is not one of {string.Join(", ", Types.Keys)}");
    }
}
