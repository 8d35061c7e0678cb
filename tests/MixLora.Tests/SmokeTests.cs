using TorchSharp;

namespace MixLora.Tests;

public class SmokeTests
{
    [Fact]
    public void TorchSharpNativeLibraryLoads()
    {
        using var t = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        Assert.Equal(15f, t.sum().item<float>());
    }
}
