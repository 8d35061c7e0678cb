using TorchSharp;
using static TorchSharp.torch;

namespace MixLora.Config;

/// <summary>Run-time choices that are not part of any file format: device, compute dtype, CPU threads.</summary>
public sealed record RunOptions
{
    /// <summary>"cpu", "cuda", "cuda:1", ... (needs a CUDA build of TorchSharp/libtorch for GPUs).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Compute dtype: "float32" (default; fast on CPU), "bfloat16" or "float16".</summary>
    public string DType { get; init; } = "float32";

    /// <summary>Intra-op CPU threads; null leaves libtorch's default.</summary>
    public int? Threads { get; init; }

    /// <summary>Load weights even when a tensor holds NaN or ±Inf (refused by default: see <see cref="IO.FiniteWeights"/>).</summary>
    public bool AllowNonFinite { get; init; }

    public static readonly IReadOnlyList<string> DTypeNames = ["float32", "bfloat16", "float16"];

    public ScalarType ScalarType => DType switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" => ScalarType.Float16,
        _ => throw new MixLoraException($"--dtype \"{DType}\" is not supported (supported: {string.Join(", ", DTypeNames)})"),
    };

    /// <summary>Resolves the device, with a clear error when it is not available in this build.</summary>
    public Device TorchDevice
    {
        get
        {
            Device device;
            try { device = new Device(Device); }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
            {
                throw new MixLoraException($"--device \"{Device}\" is not a device name (expected cpu, cuda or cuda:N)");
            }
            if (device.type == DeviceType.CUDA && !cuda.is_available())
                throw new MixLoraException($"--device {Device}: CUDA is not available (this build uses the CPU libtorch package)");
            return device;
        }
    }

    /// <summary>Applies process-wide settings (threads).</summary>
    public void Apply()
    {
        if (Threads is int n)
        {
            if (n < 1) throw new MixLoraException($"--threads must be ≥ 1, got {n}");
            set_num_threads(n);
        }
    }
}
