using MixLora.Models;
using MixLora.Tests.Models.Families;
using MixLora.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Tests.Models;

/// <summary>
/// Moving a loaded model (what <c>--device</c> does after loading on the CPU) replaces every parameter tensor; the
/// modules must then compute with the moved ones. No GPU here: a move to float64 takes the same path in TorchSharp.
/// </summary>
public class ModelMoveTests
{
    [Theory]
    [InlineData("llama3.2")]
    [InlineData("gemma3_text")]
    [InlineData("phi3")]
    [InlineData("phi")]
    public void AMovedModelComputesWithTheMovedWeights(string family)
    {
        using var model = TinyModels.Create(FamilyConfigs.Get(family), seed: 3);
        using var ids = tensor(new long[] { 1, 40, 7, 300, 12, 9, 77 }).unsqueeze(0);
        using var _ = no_grad();
        using var before = model.Forward(ids);
        model.to(ScalarType.Float64);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.Equal(ScalarType.Float64, model.Layers[0].SelfAttention.OProj.Weight.dtype);
        Assert.Equal(ScalarType.Float64, model.Layers[0].DenseMlp.UpProj.Weight.dtype);   // Phi-3: a view of the moved gate_up_proj
        using var after = model.Forward(ids);
        TensorAssert.Close(before.Logits, after.Logits, 1e-5, $"{family} after the move");
    }
}
