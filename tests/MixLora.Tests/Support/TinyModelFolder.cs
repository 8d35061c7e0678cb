using MixLora.Config;
using MixLora.IO;
using MixLora.Models;
using static TorchSharp.torch;

namespace MixLora.Tests.Support;

/// <summary>Writes a random LLaMA-family model as a Hugging Face folder with our own writers.</summary>
public static class TinyModelFolder
{
    public enum WeightFormat { SafeTensors, ShardedSafeTensors, TorchBin }

    /// <summary>Builds a random model, writes it to <paramref name="dir"/> and returns the in-memory model.</summary>
    public static CausalLM Write(string dir, ModelConfig config, long seed, WeightFormat format = WeightFormat.SafeTensors,
        ScalarType storedAs = ScalarType.Float32)
    {
        Directory.CreateDirectory(dir);
        var model = TinyModels.Create(config, seed);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJson());
        // The stories260K SentencePiece tokenizer (512 pieces) serves any vocabulary of at least 512 ids for these tests.
        File.Copy(RepoPaths.Asset("stories260K-hf", "tokenizer.model"), Path.Combine(dir, "tokenizer.model"));
        File.Copy(RepoPaths.Asset("stories260K-hf", "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        var tensors = model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.to(storedAs))).ToList();
        switch (format)
        {
            case WeightFormat.SafeTensors:
                SafeTensorsFile.Save(Path.Combine(dir, "model.safetensors"), tensors);
                break;
            case WeightFormat.TorchBin:
                TorchBinFile.Save(Path.Combine(dir, "pytorch_model.bin"), tensors);
                break;
            case WeightFormat.ShardedSafeTensors:
                var half = tensors.Count / 2;
                SafeTensorsFile.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), tensors.Take(half));
                SafeTensorsFile.Save(Path.Combine(dir, "model-00002-of-00002.safetensors"), tensors.Skip(half));
                var map = tensors.Select((t, i) => $"\"{t.Key}\": \"model-0000{(i < half ? 1 : 2)}-of-00002.safetensors\"");
                File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                    "{\"metadata\": {}, \"weight_map\": {" + string.Join(", ", map) + "}}");
                break;
        }
        foreach (var t in tensors) t.Value.Dispose();
        return model;
    }
}
