using MixLora.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Generation;

/// <summary>The interoperability probe: next-token logits [T, V] at every position of one sequence.</summary>
public static class LogitsProbe
{
    /// <summary>Runs the model on <paramref name="ids"/> and returns float32 logits [T, V] on the CPU.</summary>
    public static Tensor Compute(PretrainedModel model, IReadOnlyList<int> ids)
    {
        int vocab = model.Config.VocabSize;
        foreach (var id in ids)
            if (id < 0 || id >= vocab) throw new MixLoraException($"token id {id} is outside the vocabulary [0, {vocab})");
        if (ids.Count > model.Config.MaxPositionEmbeddings)
            throw new MixLoraException($"{ids.Count} ids exceed the model's context of {model.Config.MaxPositionEmbeddings}");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var input = tensor(ids.Select(i => (long)i).ToArray(), device: model.Model.EmbedTokens.device).unsqueeze(0); // [1, T]
        using var output = model.Model.Forward(input);
        return output.Logits[0].to(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();             // [1, T, V] -> [T, V]
    }

    /// <summary>Writes the logits as a safetensors file with one tensor named "logits"; returns its shape.</summary>
    public static long[] Write(PretrainedModel model, IReadOnlyList<int> ids, string path)
    {
        using var logits = Compute(model, ids);
        SafeTensorsFile.Save(path, [new KeyValuePair<string, Tensor>("logits", logits)]);
        return logits.shape;
    }
}
