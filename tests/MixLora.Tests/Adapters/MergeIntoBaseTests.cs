using MixLora.Adapters;
using MixLora.Export;
using MixLora.Tests.Cli;
using MixLora.Tests.Export;
using MixLora.Tests.Support;
using MixLora.Tests.Training;
using static TorchSharp.torch;

namespace MixLora.Tests.Adapters;

/// <summary>An adapter merged into the base weights for inference gives its unmerged outputs, and the base comes back exactly.</summary>
[Collection(nameof(GlobalGeneratorCollection))]
public class MergeIntoBaseTests
{
    public static TheoryData<string> Adapters => new()
    {
        "\"peft_type\": \"LORA\"",
        "\"peft_type\": \"LORA\", \"use_dora\": true",
        "\"peft_type\": \"MIXLORA\", \"routing_strategy\": \"mixlora\", \"num_experts\": 4, \"top_k\": 2",
    };

    [Theory]
    [MemberData(nameof(Adapters))]
    public void MergedLogitsEqualTheAdapterAndTheBaseIsRestored(string keys)
    {
        using var dir = new TempDir();
        var adapterDir = AdapterMergerTests.TrainedLike(dir, keys);
        using var model = Stories260K.Load();
        using var ids = tensor(new long[] { 1, 403, 407, 261, 439, 281, 300, 275, 400 }).unsqueeze(0);
        using var _ = no_grad();
        using var baseLogits = model.Model.Forward(ids).Logits.clone();
        using var adapter = Adapter.Load(model.Model, adapterDir);
        using var adapted = model.Model.Forward(ids).Logits.clone();
        adapter.MergeIntoBase();
        Assert.True(adapter.IsMergedIntoBase);
        Assert.All(adapter.LinearDeltas, d => Assert.DoesNotContain(d.Lora, d.Linear.Deltas));
        double scale = Math.Max(1.0, adapted.abs().max().item<float>());
        using (var merged = model.Model.Forward(ids)) TensorAssert.Close(adapted, merged.Logits, 1e-5 * scale, "merged vs unmerged");
        Assert.Contains("already merged", Assert.Throws<MixLoraException>(() => AdapterMerger.MergeWeights(model, adapter)).Message);

        adapter.UnmergeFromBase();
        using (var again = model.Model.Forward(ids)) TensorAssert.Close(adapted, again.Logits, 0, "unmerged again");
        adapter.MergeIntoBase();
        adapter.Detach();
        using (var restored = model.Model.Forward(ids)) TensorAssert.Close(baseLogits, restored.Logits, 0, "base restored exactly");
        adapter.Attach();
        adapter.MergeIntoBase();
        adapter.SetTraining(true);                                   // training needs the LoRAs separate
        Assert.False(adapter.IsMergedIntoBase);
        adapter.SetTraining(false);
        using (var separate = model.Model.Forward(ids)) TensorAssert.Close(adapted, separate.Logits, 0, "after training mode");
    }

    [Fact]
    public void GenerateWithMergeLoraWritesTheSameText()
    {
        using var dir = new TempDir();
        var adapterDir = AdapterMergerTests.TrainedLike(dir, "\"peft_type\": \"LORA\"");
        var plain = CliRunner.Run("generate", "--model", Stories260K.Dir, "--adapter", adapterDir, "--prompt", "Once upon a time", "--max-new-tokens", "40", "--temperature", "0");
        var merged = CliRunner.Run("generate", "--model", Stories260K.Dir, "--adapter", adapterDir, "--merge-lora", "--prompt", "Once upon a time", "--max-new-tokens", "40", "--temperature", "0");
        Assert.True(plain.ExitCode == 0 && merged.ExitCode == 0, plain.Err + merged.Err);
        Assert.Equal(plain.Out, merged.Out);
        var missing = CliRunner.Run("generate", "--model", Stories260K.Dir, "--merge-lora", "--prompt", "Once");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("--merge-lora folds an adapter into the base weights", missing.Err);
    }
}
