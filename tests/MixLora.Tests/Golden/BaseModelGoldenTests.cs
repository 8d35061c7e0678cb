using MixLora.Config;
using MixLora.Models;
using MixLora.IO;
using MixLora.Tests.Support;
using static TorchSharp.torch;

namespace MixLora.Tests.Golden;

public class BaseModelGoldenTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void BaseLogitsMatchReference(int k)
    {
        using var model = Stories260K.LoadModel();
        using var _ = no_grad();
        using var ids = GoldenData.Get($"input_ids_{k}").unsqueeze(0);
        using var output = model.Forward(ids);
        TensorAssert.Close(GoldenData.Get($"base_logits_{k}"), output.Logits[0], 1e-4, $"base_logits_{k}");
    }
}
