using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MixLora.IO;

/// <summary>
/// Writes a model's weights as Hugging Face does: one <c>model.safetensors</c> up to a size limit, above it shards
/// <c>model-0000i-of-0000N.safetensors</c> plus <c>model.safetensors.index.json</c> (total size, tensor → shard map).
/// </summary>
public static class SafeTensorsShards
{
    /// <summary>The default shard limit: 2 GB.</summary>
    public const long DefaultMaxShardBytes = 2_000_000_000;

    /// <summary>
    /// Saves <paramref name="tensors"/> (in order) into <paramref name="directory"/>; a tensor larger than the limit
    /// gets a shard of its own. Each file is written atomically; the index is written last.
    /// </summary>
    /// <returns>The files written, weights first.</returns>
    public static IReadOnlyList<string> Save(string directory, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, long maxShardBytes = DefaultMaxShardBytes)
    {
        static long Bytes(Tensor t) => t.numel() * t.element_size();
        long total = tensors.Sum(t => Bytes(t.Value));
        if (total <= maxShardBytes)
        {
            var single = Path.Combine(directory, HfModelFolder.SafeTensorsFileName);
            SafeTensorsFile.Save(single, tensors);
            return [single];
        }
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long current = 0;
        foreach (var tensor in tensors)
        {
            long size = Bytes(tensor.Value);
            if (current > 0 && current + size > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(tensor);
            current += size;
        }
        var files = new List<string>();
        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsFile.Save(Path.Combine(directory, name), shards[i]);
            files.Add(Path.Combine(directory, name));
            foreach (var (tensorName, _) in shards[i]) weightMap[tensorName] = name;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        var indexPath = Path.Combine(directory, HfModelFolder.SafeTensorsIndexFile);
        AtomicFile.WriteAllText(indexPath, index.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        files.Add(indexPath);
        return files;
    }
}
