using MixLora.IO;
using static TorchSharp.torch;

namespace MixLora.Tests.Support;

/// <summary>The reference outputs in assets/golden/mixlora-stories260K/golden.safetensors (see golden.json there).</summary>
public static class GoldenData
{
    private static readonly Lazy<IReadOnlyDictionary<string, Tensor>> Entries = new(() =>
    {
        using var scope = NewDisposeScope();
        var loaded = SafeTensorsFile.Load(RepoPaths.Asset("golden", "mixlora-stories260K", "golden.safetensors"));
        var result = loaded.ToDictionary(kv => kv.Key, kv => kv.Value.DetachFromDisposeScope());
        return result;
    });

    /// <summary>A golden tensor (shared; do not dispose).</summary>
    public static Tensor Get(string name) => Entries.Value[name];

    public static long[] Ids(string name) => Get(name).data<long>().ToArray();
}
