using TorchSharp;

namespace MixLora.IO;

/// <summary>
/// Reads and writes PyTorch <c>torch.save</c> zip files of tensor state dicts (adapter_model.bin, pytorch_model.bin).
/// Loading is restricted: the pickle may only build dicts of tensors; any other global or opcode is refused with an
/// <see cref="InvalidFileException"/> and nothing in the file is ever executed.
/// </summary>
public static class TorchBinFile
{
    /// <summary>
    /// Loads a state dict as CPU tensors in file order, each contiguous and owning its memory, in the stored dtype
    /// (FloatStorage → float32, BFloat16Storage → bfloat16, …) unless <paramref name="convertTo"/> is given, which
    /// converts floating tensors (integer and bool tensors keep their dtype).
    /// </summary>
    /// <exception cref="InvalidFileException">Missing, corrupt, truncated or disallowed content.</exception>
    public static OrderedDictionary<string, torch.Tensor> Load(string path, torch.ScalarType? convertTo = null) =>
        TorchBinReader.Load(path, convertTo);

    /// <summary>
    /// Writes the tensors as <c>torch.save(OrderedDict)</c> does (zip with 64-byte aligned STORED entries, pickle
    /// protocol 2), readable by <c>torch.load(..., weights_only=True)</c>. The file is written to a temp file in
    /// the same folder and renamed over <paramref name="path"/>, so a failure leaves no half-written file.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors) =>
        TorchBinWriter.Save(path, tensors);
}
